//! A SQLite VFS that writes each commit's WAL frames with one `pwrite` instead of two per frame.
//!
//! SQLite appends a WAL frame as two writes, its 24-byte header and then its page, each a
//! `pwrite` system call. A create writes ~4.4 frames, so ~9 system calls, and under `wrk
//! POST` the writer thread spent ~30% of its time in those calls (perf), mostly the kernel's
//! per-call work rather than copying bytes. This VFS wraps the default one and, for WAL files
//! only, gathers writes that continue exactly where the previous write ended (SQLite's
//! appends) in a buffer, written out as one `pwrite`:
//!
//! - when the frame that commits a transaction is complete (its header's "database size"
//!   field is not zero), so that the COMMIT's own write reports any I/O error, as before, and
//!   the frames are in the file before the wal-index header makes them visible to readers;
//! - before anything else touches the file (read, sync, truncate, size, file control, close)
//!   and before a write anywhere else (SQLite rewrites frame headers or a page in place);
//! - before any shared-memory barrier or lock on the same thread (a safety net: SQLite
//!   publishes a commit to readers only after a barrier, and ends every transaction by
//!   releasing a lock, so no buffer outlives its transaction).
//!
//! Every other write, and every other file, goes straight to the default VFS. A write that is
//! not buffered is written at once, after the buffer, so the file's contents are never out of
//! order; a write-out that fails keeps its frames buffered, to be tried again first. Durability
//! is unchanged: nothing that was acknowledged is still in the buffer (a committed
//! transaction's frames are written before its COMMIT returns), and syncs happen where SQLite
//! asks for them, after the buffer is written.
//!
//! Finding the commit frame relies on how SQLite 3.x writes a frame (`walWriteOneFrame`: the
//! header, then the page). Should that change, the safety net still writes the frames out
//! before the commit is published; only an I/O error would then no longer reach the COMMIT.
//! Exclusive locking mode (no shared memory, so no barrier) is not used by this server.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::ptr;

use libsqlite3_sys::{
    SQLITE_OK, SQLITE_OPEN_MAIN_DB, SQLITE_OPEN_WAL, sqlite3_file, sqlite3_filename, sqlite3_int64, sqlite3_io_methods,
    sqlite3_vfs,
};

/// Largest run of frames gathered into one write: the unix VFS writes at most 128 KiB - 1
/// per call (it masks the length to 17 bits). A writer batch of 4 creates is ~70 KB; a larger
/// batch is written in pieces of up to 29 frames, each one system call.
const CAPACITY: usize = 120 * 1024;
/// A WAL frame's header; bytes 4..8 hold the database size after a commit, 0 otherwise.
const FRAME_HEADER: c_int = 24;

/// The default VFS this one wraps.
struct Wrapped {
    base: *mut sqlite3_vfs,
    /// Byte offset of a WAL file's [`WalBuffer`] within its `sqlite3_file` allocation.
    state_offset: usize,
}

// SAFETY: written once before any connection opens, read-only afterwards.
unsafe impl Send for Wrapped {}
unsafe impl Sync for Wrapped {}

static WRAPPED: std::sync::OnceLock<Wrapped> = std::sync::OnceLock::new();

/// Registers the buffering VFS as SQLite's default. Must run after `sqlite3_config` and
/// before the first connection opens; idempotent with its caller's `Once`.
///
/// # Safety
/// Calls SQLite's C API; the registered `sqlite3_vfs` is leaked on purpose (SQLite keeps a
/// pointer to it for the process's life).
pub(super) unsafe fn register() {
    // SAFETY: `sqlite3_vfs_find(NULL)` returns the default VFS (SQLite initialises itself).
    let base = unsafe { libsqlite3_sys::sqlite3_vfs_find(ptr::null()) };
    if base.is_null() {
        return;
    }
    // SAFETY: `base` points to a registered, live VFS.
    let mut vfs = unsafe { *base };
    let state_offset = (vfs.szOsFile as usize).next_multiple_of(std::mem::align_of::<WalBuffer>());
    vfs.szOsFile = (state_offset + std::mem::size_of::<WalBuffer>()) as c_int;
    vfs.zName = c"entrada-wal-buffer".as_ptr();
    vfs.pNext = ptr::null_mut();
    vfs.xOpen = Some(open);
    // The other entry points are the default VFS's own: they get this struct, which has the
    // same `pAppData` and `mxPathname`.
    let vfs = Box::leak(Box::new(vfs));
    let wrapped = Wrapped { base, state_offset };
    if WRAPPED.set(wrapped).is_ok() {
        // SAFETY: `vfs` lives for the process; 1 makes it the default.
        unsafe { libsqlite3_sys::sqlite3_vfs_register(vfs, 1) };
    }
}

/// Where a WAL file's pending frames wait.
struct WalBuffer {
    bytes: Vec<u8>,
    /// File offset of `bytes[0]`.
    start: i64,
    /// Where the previous write ended: only a write starting there is an append.
    end: i64,
    /// The previous write was the header of a commit frame: its page completes the commit.
    commit_header: bool,
}

thread_local! {
    /// The WAL file of this thread with frames in its buffer, if any. A write transaction
    /// runs on one thread from BEGIN to its end (SQLite's writer thread, or a CLI command),
    /// and its end (the lock release in `db_shm_lock`) empties the buffer: no entry outlives
    /// its transaction or points to a file another thread uses.
    static PENDING: Cell<*mut sqlite3_file> = const { Cell::new(ptr::null_mut()) };
}

fn wrapped() -> &'static Wrapped {
    WRAPPED.get().expect("the WAL-buffer VFS is registered before use")
}

/// A kind of file's methods: the default VFS's table (its WAL files and its database files
/// have different ones) and ours, the same but for the entries this module replaces.
struct Methods {
    inner: &'static sqlite3_io_methods,
    ours: sqlite3_io_methods,
}

static WAL_METHODS: std::sync::OnceLock<Methods> = std::sync::OnceLock::new();
static DB_METHODS: std::sync::OnceLock<Methods> = std::sync::OnceLock::new();

impl Methods {
    /// Ours for a file whose default table is `inner`, made from the first such file; `None`
    /// for a file with another table (not expected), which is then left alone.
    fn wrapping(cell: &'static std::sync::OnceLock<Methods>, inner: *const sqlite3_io_methods, replace: fn(&mut sqlite3_io_methods)) -> Option<&'static sqlite3_io_methods> {
        let methods = cell.get_or_init(|| {
            // SAFETY: the default VFS's methods tables are static C data, live for the process.
            let inner = unsafe { &*inner };
            let mut ours = *inner;
            replace(&mut ours);
            Methods { inner, ours }
        });
        ptr::eq(methods.inner, inner).then_some(&methods.ours)
    }
}

fn replace_wal(m: &mut sqlite3_io_methods) {
    m.xClose = Some(wal_close);
    m.xRead = Some(wal_read);
    m.xWrite = Some(wal_write);
    m.xTruncate = Some(wal_truncate);
    m.xSync = Some(wal_sync);
    m.xFileSize = Some(wal_file_size);
    m.xFileControl = Some(wal_file_control);
}

fn replace_db(m: &mut sqlite3_io_methods) {
    if m.iVersion >= 2 && m.xShmBarrier.is_some() && m.xShmLock.is_some() {
        m.xShmBarrier = Some(db_shm_barrier);
        m.xShmLock = Some(db_shm_lock);
    }
}

/// The default VFS's methods for WAL files (set before any of ours can be called).
fn wal_inner() -> &'static sqlite3_io_methods {
    WAL_METHODS.get().expect("set when the first WAL file opens").inner
}

unsafe extern "C" fn open(_vfs: *mut sqlite3_vfs, name: sqlite3_filename, file: *mut sqlite3_file, flags: c_int, out_flags: *mut c_int) -> c_int {
    let w = wrapped();
    // SAFETY: the default VFS opens the file into the start of SQLite's allocation, which is
    // at least its own `szOsFile` long.
    let rc = unsafe { ((*w.base).xOpen.expect("a VFS has xOpen"))(w.base, name, file, flags, out_flags) };
    // SAFETY: after a successful open `pMethods` is the default VFS's table or null.
    let inner = unsafe { (*file).pMethods };
    if rc != SQLITE_OK || inner.is_null() {
        return rc;
    }
    if flags & SQLITE_OPEN_WAL != 0 {
        let Some(wal) = Methods::wrapping(&WAL_METHODS, inner, replace_wal) else { return rc };
        // SAFETY: the state lies past the default VFS's part of the allocation, inside our
        // larger `szOsFile`, suitably aligned; it is dropped in `wal_close`.
        unsafe {
            ptr::write(state(file), WalBuffer { bytes: Vec::new(), start: 0, end: -1, commit_header: false });
            (*file).pMethods = wal;
        }
    } else if flags & SQLITE_OPEN_MAIN_DB != 0
        && let Some(db) = Methods::wrapping(&DB_METHODS, inner, replace_db)
    {
        // SAFETY: same functions as the default's but for the barrier, which calls it.
        unsafe { (*file).pMethods = db };
    }
    rc
}

/// # Safety
/// `file` is a WAL file opened by [`open`].
unsafe fn state<'a>(file: *mut sqlite3_file) -> &'a mut WalBuffer {
    // SAFETY: see `open`.
    unsafe { &mut *((file as *mut u8).add(wrapped().state_offset) as *mut WalBuffer) }
}

/// Writes out the buffered frames of `file` as one write. On failure they stay buffered
/// (and are tried again first by the next write-out), so nothing is written out of order.
///
/// # Safety
/// `file` is the WAL file opened by [`open`] whose state `buffer` is, used by this thread.
unsafe fn flush(file: *mut sqlite3_file, buffer: &mut WalBuffer) -> c_int {
    if buffer.bytes.is_empty() {
        return SQLITE_OK;
    }
    // SAFETY: the default VFS's write of our bytes at the offset they were meant for.
    let rc = unsafe { inner_write(file, buffer.bytes.as_ptr() as *const c_void, buffer.bytes.len() as c_int, buffer.start) };
    if rc != SQLITE_OK {
        return rc;
    }
    buffer.bytes.clear();
    if PENDING.get() == file {
        PENDING.set(ptr::null_mut());
    }
    SQLITE_OK
}

/// # Safety
/// As for the default VFS's `xWrite`.
unsafe fn inner_write(file: *mut sqlite3_file, data: *const c_void, amount: c_int, offset: sqlite3_int64) -> c_int {
    // SAFETY: per the caller.
    unsafe { (wal_inner().xWrite.expect("files have xWrite"))(file, data, amount, offset) }
}

/// Writes out whatever a WAL file of this thread still holds. Nobody can be told about an
/// error here; the frames stay buffered and the file's next operation tries again first.
fn flush_pending() {
    let file = PENDING.get();
    if !file.is_null() {
        // SAFETY: `PENDING` only holds a live WAL file of this thread (see its comment).
        unsafe { flush(file, state(file)) };
    }
}

unsafe extern "C" fn wal_write(file: *mut sqlite3_file, data: *const c_void, amount: c_int, offset: sqlite3_int64) -> c_int {
    // SAFETY: SQLite calls this with one of our WAL files and `amount` readable bytes at `data`.
    let (buffer, bytes) = unsafe { (state(file), std::slice::from_raw_parts(data as *const u8, amount.max(0) as usize)) };
    let append = offset == buffer.end && bytes.len() <= CAPACITY;
    if !append || buffer.bytes.len() + bytes.len() > CAPACITY {
        // SAFETY: as above.
        let rc = unsafe { flush(file, buffer) };
        if rc != SQLITE_OK {
            return rc;
        }
    }
    buffer.end = offset + amount as i64;
    // A frame's header comes alone; a commit frame's says the database's size.
    let completes_commit = std::mem::replace(&mut buffer.commit_header, amount == FRAME_HEADER && bytes[4..8] != [0, 0, 0, 0]);
    if !append {
        // SAFETY: the default VFS's own write, in order after everything buffered before.
        return unsafe { inner_write(file, data, amount, offset) };
    }
    if PENDING.get() != file {
        flush_pending();
        PENDING.set(file);
    }
    if buffer.bytes.is_empty() {
        buffer.start = offset;
    }
    buffer.bytes.extend_from_slice(bytes);
    if completes_commit && amount != FRAME_HEADER {
        // The commit frame is complete: its write is the COMMIT's, errors included.
        // SAFETY: as above.
        return unsafe { flush(file, buffer) };
    }
    SQLITE_OK
}

/// Generates a WAL method that writes out the buffer, then calls the default VFS's method.
macro_rules! flushing {
    ($name:ident, $slot:ident, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(file: *mut sqlite3_file, $($arg: $ty),*) -> c_int {
            // SAFETY: SQLite calls this with one of our WAL files.
            let rc = unsafe { flush(file, state(file)) };
            if rc != SQLITE_OK {
                return rc;
            }
            // SAFETY: the default VFS's method on its own file.
            unsafe { (wal_inner().$slot.expect(concat!("files have ", stringify!($slot))))(file, $($arg),*) }
        }
    };
}

flushing!(wal_read, xRead, (data: *mut c_void, amount: c_int, offset: sqlite3_int64));
flushing!(wal_truncate, xTruncate, (size: sqlite3_int64));
flushing!(wal_sync, xSync, (flags: c_int));
flushing!(wal_file_size, xFileSize, (size: *mut sqlite3_int64));
flushing!(wal_file_control, xFileControl, (op: c_int, arg: *mut c_void));

unsafe extern "C" fn wal_close(file: *mut sqlite3_file) -> c_int {
    // SAFETY: SQLite closes each file once; the state is dropped here and never used again.
    let rc = unsafe { flush(file, state(file)) };
    if PENDING.get() == file {
        PENDING.set(ptr::null_mut());
    }
    // SAFETY: the state was written in `open` and is not used after this; the default VFS's
    // close expects its own methods table.
    unsafe {
        ptr::drop_in_place(state(file) as *mut WalBuffer);
        (*file).pMethods = wal_inner();
    }
    // SAFETY: the default VFS closes its own file.
    let closed = unsafe { (wal_inner().xClose.expect("files have xClose"))(file) };
    if rc != SQLITE_OK { rc } else { closed }
}

fn db_inner() -> &'static sqlite3_io_methods {
    DB_METHODS.get().expect("set when the first database file opens").inner
}

unsafe extern "C" fn db_shm_barrier(file: *mut sqlite3_file) {
    flush_pending();
    // SAFETY: the default VFS's barrier on its own file (`replace_db` checked it exists).
    unsafe { (db_inner().xShmBarrier.expect("checked in replace_db"))(file) }
}

/// Every transaction ends by releasing shared-memory locks: a transaction rolled back after
/// SQLite spilled frames leaves them buffered, and this makes sure no buffer outlives the
/// transaction on its thread (a pooled connection may move to another thread afterwards).
unsafe extern "C" fn db_shm_lock(file: *mut sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    flush_pending();
    // SAFETY: the default VFS's lock on its own file (`replace_db` checked it exists).
    unsafe { (db_inner().xShmLock.expect("checked in replace_db"))(file, offset, n, flags) }
}
