//! Table definitions shared by both backends (see `migrations/`). Written by hand: the two
//! migration trees differ only in identity/boolean syntax, and this file must fit both.

diesel::table! {
    companies (id) {
        id -> BigInt,
        shortcode -> Text,
        name -> Text,
        entra_enabled -> Bool,
        job_title_sync -> Bool,
        groups_enabled -> Bool,
        provisioning_mode -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    passles (id) {
        id -> BigInt,
        company_id -> BigInt,
        name -> Text,
        name_lower -> Text,
        selected_for_provisioning -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        company_id -> BigInt,
        scim_id -> Text,
        user_name -> Text,
        user_name_lower -> Text,
        external_id -> Nullable<Text>,
        external_id_lower -> Nullable<Text>,
        email -> Nullable<Text>,
        email_lower -> Nullable<Text>,
        display_name -> Nullable<Text>,
        given_name -> Nullable<Text>,
        family_name -> Nullable<Text>,
        title -> Nullable<Text>,
        preferred_language -> Nullable<Text>,
        manager_id -> Nullable<Text>,
        scim_active -> Nullable<Bool>,
        job_title -> Nullable<Text>,
        role -> Nullable<Text>,
        source -> Text,
        disabled_at -> Nullable<Timestamp>,
        deprovisioned_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        deprovisioned_key -> Nullable<Text>,
        scim_values -> Text,
    }
}

diesel::table! {
    user_lookups (user_id, attribute, position) {
        user_id -> BigInt,
        attribute -> Text,
        position -> Integer,
        company_id -> BigInt,
        value_lower -> Nullable<Text>,
        #[sql_name = "type"]
        type_ -> Nullable<Text>,
        is_primary -> Nullable<Bool>,
        display -> Nullable<Text>,
    }
}

diesel::table! {
    passle_assignments (id) {
        id -> BigInt,
        company_id -> BigInt,
        user_id -> BigInt,
        passle_id -> BigInt,
        role -> Text,
        source -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    scim_tokens (id) {
        id -> BigInt,
        company_id -> BigInt,
        token_digest -> Text,
        last4 -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    accounts (id) {
        id -> BigInt,
        company_id -> Nullable<BigInt>,
        email -> Text,
        email_lower -> Text,
        password_hash -> Text,
        must_change_password -> Bool,
        activity_seen_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        token_digest -> Text,
        account_id -> BigInt,
        csrf_token -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    sign_in_failures (id) {
        id -> BigInt,
        throttle_key -> Text,
        failed_at -> Timestamp,
    }
}

diesel::table! {
    setup_tokens (id) {
        id -> BigInt,
        token_digest -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    activity (id) {
        id -> BigInt,
        company_id -> BigInt,
        occurred_at -> Timestamp,
        actor -> Text,
        operation -> Text,
        resource_type -> Text,
        resource_id -> Nullable<Text>,
        user_id -> Nullable<BigInt>,
        subject -> Nullable<Text>,
        outcome -> Text,
        status -> Integer,
        detail -> Text,
    }
}

diesel::table! {
    groups (id) {
        id -> BigInt,
        company_id -> BigInt,
        scim_id -> Text,
        display_name -> Text,
        display_name_lower -> Text,
        external_id -> Nullable<Text>,
        external_id_lower -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    group_members (group_id, user_id) {
        group_id -> BigInt,
        user_id -> BigInt,
        company_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    group_mappings (id) {
        id -> BigInt,
        company_id -> BigInt,
        group_id -> BigInt,
        passle_id -> BigInt,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(group_members -> groups (group_id));
diesel::joinable!(group_members -> users (user_id));
diesel::joinable!(group_mappings -> groups (group_id));
diesel::joinable!(group_mappings -> passles (passle_id));
diesel::joinable!(passles -> companies (company_id));
diesel::joinable!(users -> companies (company_id));
diesel::joinable!(user_lookups -> users (user_id));
diesel::joinable!(passle_assignments -> users (user_id));
diesel::joinable!(passle_assignments -> passles (passle_id));
diesel::joinable!(scim_tokens -> companies (company_id));
diesel::joinable!(accounts -> companies (company_id));
diesel::joinable!(sessions -> accounts (account_id));
diesel::joinable!(activity -> companies (company_id));

diesel::allow_tables_to_appear_in_same_query!(
    companies,
    passles,
    users,
    user_lookups,
    passle_assignments,
    scim_tokens,
    accounts,
    sessions,
    sign_in_failures,
    setup_tokens,
    activity,
    groups,
    group_members,
    group_mappings,
);
