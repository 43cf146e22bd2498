//! Diesel's view of the tables, shared by SQLite and PostgreSQL: the migrations of both backends
//! create the same columns with the same types (times are BIGINT milliseconds on both).
//! `tests/migrations.rs` selects every column listed here on both backends, so a drift fails a test.

diesel::table! {
    users (id) {
        id -> Text,
        email -> Nullable<Text>,
        email_addresses -> Text,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        username -> Nullable<Text>,
        image_url -> Nullable<Text>,
        public_metadata -> Text,
        private_metadata -> Text,
        unsafe_metadata -> Text,
        banned -> Bool,
        last_sign_in_at -> Nullable<BigInt>,
        clerk_created_at -> BigInt,
        clerk_updated_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
        created_at -> BigInt,
        synced_at -> BigInt,
    }
}

diesel::table! {
    organizations (id) {
        id -> Text,
        name -> Text,
        slug -> Nullable<Text>,
        image_url -> Nullable<Text>,
        public_metadata -> Text,
        private_metadata -> Text,
        max_allowed_memberships -> Nullable<Integer>,
        created_by -> Nullable<Text>,
        clerk_created_at -> BigInt,
        clerk_updated_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
        created_at -> BigInt,
        synced_at -> BigInt,
    }
}

diesel::table! {
    organization_memberships (id) {
        id -> Text,
        organization_id -> Text,
        user_id -> Text,
        role -> Text,
        permissions -> Text,
        public_metadata -> Text,
        private_metadata -> Text,
        clerk_created_at -> BigInt,
        clerk_updated_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
        created_at -> BigInt,
        synced_at -> BigInt,
    }
}

diesel::table! {
    webhook_deliveries (svix_id) {
        svix_id -> Text,
        event_type -> Text,
        status -> Text,
        payload -> Text,
        error -> Nullable<Text>,
        attempts -> Integer,
        svix_timestamp -> BigInt,
        received_at -> BigInt,
        processed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        occurred_at -> BigInt,
        request_id -> Nullable<Text>,
        principal_type -> Text,
        user_id -> Nullable<Text>,
        organization_id -> Nullable<Text>,
        session_id -> Nullable<Text>,
        method -> Text,
        path -> Text,
        route -> Nullable<Text>,
        status -> Integer,
        duration_us -> BigInt,
        client_ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        reason -> Nullable<Text>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    service_api_keys (id) {
        id -> Text,
        name -> Text,
        prefix -> Text,
        secret_hash -> Text,
        organization_id -> Nullable<Text>,
        scopes -> Text,
        created_by -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    admin_accounts (id) {
        id -> BigInt,
        email -> Text,
        password_hash -> Text,
        disabled_at -> Nullable<BigInt>,
        last_login_at -> Nullable<BigInt>,
        password_changed_at -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    admin_sessions (id_hash) {
        id_hash -> Text,
        admin_id -> BigInt,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        ended_at -> Nullable<BigInt>,
        client_ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    admin_login_attempts (id) {
        id -> BigInt,
        attempted_at -> BigInt,
        email -> Text,
        client_network -> Nullable<Text>,
        succeeded -> Bool,
    }
}

diesel::joinable!(admin_sessions -> admin_accounts (admin_id));

diesel::table! {
    revoked_sessions (session_id) {
        session_id -> Text,
        user_id -> Nullable<Text>,
        reason -> Text,
        revoked_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    sync_runs (id) {
        id -> BigInt,
        started_at -> BigInt,
        updated_at -> BigInt,
        finished_at -> Nullable<BigInt>,
        status -> Text,
        started_by -> Text,
        kinds -> Text,
        progress -> Text,
        dry_run -> Bool,
    }
}

diesel::table! {
    generated_secret_key (id) {
        id -> Integer,
        secret -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    assertion_keys (generation) {
        generation -> Integer,
        kid -> Text,
        private_key -> Text,
        public_key -> Text,
        created_at -> BigInt,
        activates_at -> BigInt,
        retires_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(organization_memberships -> organizations (organization_id));
diesel::joinable!(organization_memberships -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    organizations,
    organization_memberships,
    webhook_deliveries,
    audit_events,
    service_api_keys,
    admin_accounts,
    admin_sessions,
    admin_login_attempts,
    revoked_sessions,
    sync_runs,
    generated_secret_key,
    assertion_keys,
);
