use std::fmt;

/// A person's role in the product. Ordered: a higher role wins when two sources disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    ContentCreator,
    Editor,
    Administrator,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Administrator, Role::Editor, Role::ContentCreator];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Editor => "editor",
            Role::ContentCreator => "content_creator",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Administrator => "Administrator",
            Role::Editor => "Editor",
            Role::ContentCreator => "Content Creator",
        }
    }

    pub fn parse(raw: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == raw)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// How a company sets up people that Entra creates (applies to new people only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisioningMode {
    /// No role and no Passle: people stay pending until an admin assigns them.
    None,
    /// Content Creator on every Passle the company has.
    AllPassles,
    /// Content Creator on the Passles chosen on Manage Entra ID.
    SelectedPassles,
}

impl ProvisioningMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisioningMode::None => "none",
            ProvisioningMode::AllPassles => "all_passles",
            ProvisioningMode::SelectedPassles => "selected_passles",
        }
    }

    pub fn parse(raw: &str) -> Option<ProvisioningMode> {
        [ProvisioningMode::None, ProvisioningMode::AllPassles, ProvisioningMode::SelectedPassles]
            .into_iter()
            .find(|m| m.as_str() == raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_order_by_power() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert!(Role::Administrator > Role::Editor && Role::Editor > Role::ContentCreator);
        assert_eq!(ProvisioningMode::parse("all_passles"), Some(ProvisioningMode::AllPassles));
        assert_eq!(ProvisioningMode::parse("bogus"), None);
    }
}
