//! What each subcommand does. Each opens the database (applying migrations, so commands work
//! on a fresh database) and reports failures as one line.

use anyhow::{Context, anyhow, bail};

use super::Command;
use super::input::read_password;
use crate::auth::password::hash_password;
use crate::config::Settings;
use crate::db::{AnyConnection, Database, DbError};
use crate::domain::{CompanyName, Email, Password, PassleName, Shortcode, random_alphanumeric};
use crate::models::account::Account;
use crate::models::passle::Passle;
use crate::models::scim_token::ScimToken;
use crate::models::{Company, CompanyId};
use crate::startup::Application;

pub fn run(command: Command, settings: &Settings) -> anyhow::Result<()> {
    if let Command::Serve = command {
        return serve(settings);
    }
    let mut conn = Database::connect_single(&settings.database_url)
        .map_err(|e| anyhow!("cannot open the database (DATABASE_URL): {e}"))?;
    let conn = &mut conn;
    let applied = crate::db::run_migrations(conn)?;
    match command {
        Command::Serve | Command::Help => Ok(()),
        Command::Migrate => {
            println!("Database is up to date ({applied} migrations applied now).");
            Ok(())
        }
        Command::StaffCreate { email } => {
            let email = Email::parse(&email).map_err(|e| anyhow!(e))?;
            let hash = read_new_password()?;
            create_account(conn, None, &email, &hash)?;
            println!("Staff account {email} created.");
            Ok(())
        }
        Command::CompanyCreate { shortcode, name, enable_entra, enable_groups } => {
            let company = create_company(conn, &shortcode, &name, enable_entra)?;
            if enable_groups {
                Company::set_groups_enabled(conn, company.company_id(), true)?;
            }
            let module = if company.entra_enabled { "enabled" } else { "not enabled" };
            println!("Company {} ({}) created; Entra ID module {module}.", company.name, company.shortcode);
            Ok(())
        }
        Command::AdminCreate { company, email } => {
            let company = find_company(conn, &company)?;
            let email = Email::parse(&email).map_err(|e| anyhow!(e))?;
            let hash = read_new_password()?;
            create_account(conn, Some(company.company_id()), &email, &hash)?;
            println!("Admin account {email} created for {} ({}).", company.name, company.shortcode);
            Ok(())
        }
        Command::PassleCreate { company, name } => {
            let company = find_company(conn, &company)?;
            let passle = create_passle(conn, company.company_id(), &name)?;
            println!("Passle {:?} created for {} ({}).", passle.name, company.name, company.shortcode);
            Ok(())
        }
        Command::TokenGenerate { company } => {
            let company = find_company(conn, &company)?;
            let shortcode = Shortcode::parse(&company.shortcode).map_err(|e| anyhow!(e))?;
            let secret = ScimToken::rotate(conn, company.company_id(), &shortcode)?;
            println!("Tenant URL:   {}", settings.public_url.tenant_url(shortcode.as_str()));
            println!("Secret token: {}", secret.expose());
            if !company.entra_enabled {
                eprintln!("Note: the Entra ID module is not enabled for {shortcode}; SCIM answers 403 until it is.");
            }
            Ok(())
        }
        Command::Demo => demo(conn, settings),
    }
}

fn serve(settings: &Settings) -> anyhow::Result<()> {
    let settings = settings.clone();
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings.clone()).await?;
        app.stop_on_signals()?;
        tracing::info!(
            url = %settings.public_url.as_str(),
            bind = %settings.bind,
            port = app.port(),
            database = crate::db::Backend::from_url(&settings.database_url).map(|b| b.name()).unwrap_or("?"),
            "Entrada is listening"
        );
        app.run_until_stopped().await.context("server stopped with an error")
    })
}

fn read_new_password() -> anyhow::Result<String> {
    let raw = read_password("New password: ")?;
    let password = Password::parse(&raw).map_err(|e| anyhow!(e))?;
    hash_password(&password)
}

fn find_company(conn: &mut AnyConnection, shortcode: &str) -> anyhow::Result<Company> {
    Company::find_by_shortcode(conn, shortcode.trim())?
        .ok_or_else(|| anyhow!("no company with shortcode {:?}", shortcode.trim()))
}

fn on_unique(err: diesel::result::Error, message: impl FnOnce() -> String) -> anyhow::Error {
    if DbError::from(err).is_unique_violation() { anyhow!(message()) } else { anyhow!("database error") }
}

fn create_company(conn: &mut AnyConnection, shortcode: &str, name: &str, entra: bool) -> anyhow::Result<Company> {
    let shortcode = Shortcode::parse(shortcode).map_err(|e| anyhow!(e))?;
    let name = CompanyName::parse(name).map_err(|e| anyhow!(e))?;
    Company::create(conn, &shortcode, &name, entra)
        .map_err(|e| on_unique(e, || format!("a company with shortcode {shortcode} already exists")))
}

fn create_account(conn: &mut AnyConnection, company: Option<CompanyId>, email: &Email, hash: &str) -> anyhow::Result<Account> {
    Account::create(conn, company, email, hash, false)
        .map_err(|e| on_unique(e, || format!("an account with email {email} already exists")))
}

fn create_passle(conn: &mut AnyConnection, company: CompanyId, name: &str) -> anyhow::Result<Passle> {
    let name = PassleName::parse(name).map_err(|e| anyhow!(e))?;
    Passle::create(conn, company, &name)
        .map_err(|e| on_unique(e, || format!("this company already has a Passle named {:?}", name.as_str())))
}

fn demo(conn: &mut AnyConnection, settings: &Settings) -> anyhow::Result<()> {
    if Company::find_by_shortcode(conn, "demo")?.is_some() {
        bail!("the demo company already exists (shortcode demo); sign in with the accounts printed when it was created");
    }
    let staff_password = random_alphanumeric(16);
    let admin_password = random_alphanumeric(16);
    let hash = |raw: &str| Password::parse(raw).map_err(|e| anyhow!(e)).and_then(|p| hash_password(&p));
    let (staff_hash, admin_hash) = (hash(&staff_password)?, hash(&admin_password)?);
    let staff_email = Email::parse("staff@demo.example").map_err(|e| anyhow!(e))?;
    let admin_email = Email::parse("admin@demo.example").map_err(|e| anyhow!(e))?;
    let company = crate::db::transaction(conn, |conn| -> anyhow::Result<Company> {
        let company = create_company(conn, "demo", "Demo Company", true)?;
        for name in ["Insights", "News", "Events"] {
            create_passle(conn, company.company_id(), name)?;
        }
        create_account(conn, None, &staff_email, &staff_hash)?;
        create_account(conn, Some(company.company_id()), &admin_email, &admin_hash)?;
        Ok(company)
    })?;
    println!("Demo company created: {} (shortcode {}), 3 Passles, Entra ID module enabled.", company.name, company.shortcode);
    println!("Sign in at {}/sign-in", settings.public_url.as_str());
    println!("  Client Success staff: {staff_email}  password: {staff_password}");
    println!("  Company admin:        {admin_email}  password: {admin_password}");
    Ok(())
}
