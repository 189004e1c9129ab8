//! A minimal HTTP/1.1 client: one keep-alive connection per worker.

use super::*;

pub(crate) struct Conn {
    pub(crate) addr: SocketAddr,
    pub(crate) host: HeaderValue,
    pub(crate) sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub(crate) fn new(addr: SocketAddr) -> Conn {
        Conn { addr, host: HeaderValue::from_str(&addr.to_string()).expect("host header"), sender: None }
    }

    pub(crate) async fn connect(&mut self) -> Result<(), String> {
        let stream = tokio::net::TcpStream::connect(self.addr).await.map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// Sends one request and reads the whole answer; a transport error drops the connection
    /// (the next request reconnects).
    pub(crate) async fn send(&mut self, method: Method, path: &str, auth: &HeaderValue, body: Option<Bytes>) -> Result<(u16, Bytes), String> {
        let result = tokio::time::timeout(REQUEST_TIMEOUT, self.send_inner(method, path, auth, body)).await;
        let result = result.unwrap_or_else(|_| Err(format!("timeout after {REQUEST_TIMEOUT:?}")));
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    pub(crate) async fn send_inner(&mut self, method: Method, path: &str, auth: &HeaderValue, body: Option<Bytes>) -> Result<(u16, Bytes), String> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.connect().await?;
        }
        let sender = self.sender.as_mut().expect("connected");
        sender.ready().await.map_err(|e| format!("connection not ready: {e}"))?;
        let mut request = Request::builder().method(method).uri(path).header(HOST, self.host.clone()).header(AUTHORIZATION, auth.clone());
        if body.is_some() {
            request = request.header(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
        }
        let request = request.body(Full::new(body.unwrap_or_default())).map_err(|e| format!("request: {e}"))?;
        let response = sender.send_request(request).await.map_err(|e| format!("send: {e}"))?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map_err(|e| format!("body: {e}"))?.to_bytes();
        Ok((status, body))
    }
}
