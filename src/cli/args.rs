//! Argument parsing for the handful of subcommands (no parser crate needed).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Serve,
    Migrate,
    StaffCreate { email: String },
    CompanyCreate { shortcode: String, name: String, enable_entra: bool, enable_groups: bool },
    AdminCreate { company: String, email: String },
    PassleCreate { company: String, name: String },
    TokenGenerate { company: String },
    Demo,
    Help,
}

/// `--flag value` pairs and bare `--switch`es after the subcommand words.
struct Flags<'a> {
    command: &'a str,
    pairs: Vec<(&'a str, Option<&'a str>)>,
}

impl<'a> Flags<'a> {
    fn parse(command: &'a str, args: &'a [String], switches: &[&str]) -> Result<Flags<'a>, String> {
        let mut pairs = Vec::new();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let Some(name) = arg.strip_prefix("--") else {
                return Err(format!("`{command}`: unexpected argument {arg:?}"));
            };
            if let Some((name, value)) = name.split_once('=') {
                pairs.push((name, Some(value)));
            } else if switches.contains(&name) {
                pairs.push((name, None));
            } else {
                let value = iter.next().ok_or_else(|| format!("`{command}`: --{name} needs a value"))?;
                pairs.push((name, Some(value.as_str())));
            }
        }
        Ok(Flags { command, pairs })
    }

    fn allow_only(&self, known: &[&str]) -> Result<(), String> {
        match self.pairs.iter().find(|(name, _)| !known.contains(name)) {
            Some((name, _)) => Err(format!("`{}`: unknown option --{name}", self.command)),
            None => Ok(()),
        }
    }

    fn required(&self, name: &str) -> Result<String, String> {
        self.pairs
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| *v)
            .map(str::to_owned)
            .ok_or_else(|| format!("`{}` needs --{name}", self.command))
    }

    fn switch(&self, name: &str) -> bool {
        self.pairs.iter().any(|(n, _)| *n == name)
    }
}

pub fn parse(args: &[String]) -> Result<Command, String> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let (command, rest): (&str, &[String]) = match words.as_slice() {
        [] => return Ok(Command::Serve),
        ["serve", ..] => ("serve", &args[1..]),
        ["migrate", ..] => ("migrate", &args[1..]),
        ["demo", ..] => ("demo", &args[1..]),
        ["help" | "--help" | "-h", ..] => return Ok(Command::Help),
        ["staff", "create", ..] => ("staff create", &args[2..]),
        ["company", "create", ..] => ("company create", &args[2..]),
        ["admin", "create", ..] => ("admin create", &args[2..]),
        ["passle", "create", ..] => ("passle create", &args[2..]),
        ["token", "generate", ..] => ("token generate", &args[2..]),
        [group @ ("staff" | "company" | "admin" | "passle" | "token"), ..] => {
            let verb = if *group == "token" { "generate" } else { "create" };
            return Err(format!("`{group}` needs a subcommand: `{group} {verb}`"));
        }
        [other, ..] => return Err(format!("unknown command {other:?}")),
    };
    let flags = Flags::parse(command, rest, &["enable-entra", "enable-groups"])?;
    let parsed = match command {
        "serve" | "migrate" | "demo" => {
            flags.allow_only(&[])?;
            match command {
                "serve" => Command::Serve,
                "migrate" => Command::Migrate,
                _ => Command::Demo,
            }
        }
        "staff create" => {
            flags.allow_only(&["email"])?;
            Command::StaffCreate { email: flags.required("email")? }
        }
        "company create" => {
            flags.allow_only(&["shortcode", "name", "enable-entra", "enable-groups"])?;
            Command::CompanyCreate {
                shortcode: flags.required("shortcode")?,
                name: flags.required("name")?,
                enable_entra: flags.switch("enable-entra"),
                enable_groups: flags.switch("enable-groups"),
            }
        }
        "admin create" => {
            flags.allow_only(&["company", "email"])?;
            Command::AdminCreate { company: flags.required("company")?, email: flags.required("email")? }
        }
        "passle create" => {
            flags.allow_only(&["company", "name"])?;
            Command::PassleCreate { company: flags.required("company")?, name: flags.required("name")? }
        }
        _ => {
            flags.allow_only(&["company"])?;
            Command::TokenGenerate { company: flags.required("company")? }
        }
    };
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, String> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn no_arguments_means_serve() {
        assert_eq!(p(&[]), Ok(Command::Serve));
    }

    #[test]
    fn flags_in_both_forms() {
        assert_eq!(
            p(&["company", "create", "--shortcode=a01", "--name", "Acme Ltd", "--enable-entra"]),
            Ok(Command::CompanyCreate { shortcode: "a01".into(), name: "Acme Ltd".into(), enable_entra: true, enable_groups: false })
        );
        assert_eq!(p(&["token", "generate", "--company", "a01"]), Ok(Command::TokenGenerate { company: "a01".into() }));
    }

    #[test]
    fn mistakes_are_explained() {
        assert!(p(&["frobnicate"]).unwrap_err().contains("unknown command"));
        assert!(p(&["staff"]).unwrap_err().contains("staff create"));
        assert!(p(&["staff", "create"]).unwrap_err().contains("--email"));
        assert!(p(&["staff", "create", "--email"]).unwrap_err().contains("needs a value"));
        assert!(p(&["staff", "create", "--email", "a@b.c", "--password", "x"]).unwrap_err().contains("--password"));
        assert!(p(&["serve", "extra"]).unwrap_err().contains("unexpected"));
    }
}
