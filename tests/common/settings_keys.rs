//! The keys Settings.toml defines, for tests that check files naming settings (docs, deployment).

use std::collections::BTreeSet;

use auth_core::settings::DEFAULTS_TOML;

/// Every `section.key` of Settings.toml.
pub fn settings_keys() -> BTreeSet<String> {
    let mut section = String::new();
    let mut keys = BTreeSet::new();
    for line in DEFAULTS_TOML.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
        } else if !line.starts_with('#') {
            if let Some((key, _)) = line.split_once('=') {
                keys.insert(format!("{section}.{}", key.trim()));
            }
        }
    }
    keys
}
