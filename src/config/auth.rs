//! The `[auth]` section: who may call sluice's API.
//!
//! With `enforce = false` (the default) every request is served, as by every emulator:
//! the `Authorization` header must only be well formed. With `enforce = true` every API
//! request must carry a valid Signature Version 4 of one of `[[auth.keys]]` (`src/auth`).
//! Keys are configuration, read at every start; like `[[lambda.functions]]` a list of
//! tables, so only the file can give them.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The auth section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Refuse every API request that is not signed by one of `keys`.
    pub enforce: bool,
    /// The keys requests may be signed with.
    pub keys: Vec<AuthKey>,
}

/// One access key.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// When set, requests must carry it (`X-Amz-Security-Token`), as temporary
    /// credentials' requests do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    /// An IAM identity policy (JSON text) limiting what the key may do; none: anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// When temporary credentials (those with a `session_token`) stop working, as STS
    /// writes it (`2026-12-31T23:59:59Z`): later requests get ExpiredTokenException.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    /// The account the key's requests are in (default: `aws.accounts`' entry for it,
    /// else `aws.account_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// Never the secret or the token: configs are logged and printed in errors.
impl std::fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .field("policy", &self.policy.is_some())
            .field("expiration", &self.expiration)
            .finish()
    }
}

impl AuthConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |why: String| Err(ConfigError::Invalid(format!("auth: {why}")));
        if self.enforce && self.keys.is_empty() {
            return bad("enforce = true needs at least one [[auth.keys]]".into());
        }
        let mut seen = HashSet::new();
        for key in &self.keys {
            let id = &key.access_key_id;
            // What the credential scope can carry: no '/' (it separates the scope).
            if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return bad(format!(
                    "keys: access_key_id '{id}' must be 1 to 128 letters and digits"
                ));
            }
            if key.secret_access_key.is_empty() {
                return bad(format!("keys: access_key_id '{id}' has an empty secret_access_key"));
            }
            if key.session_token.as_deref() == Some("") {
                return bad(format!("keys: access_key_id '{id}' has an empty session_token"));
            }
            if let Some(expiration) = &key.expiration {
                if key.session_token.is_none() {
                    return bad(format!(
                        "keys: access_key_id '{id}' has an expiration but no session_token (only temporary credentials expire)"
                    ));
                }
                if crate::auth::verify::expiration_millis(expiration).is_none() {
                    return bad(format!(
                        "keys: the expiration of '{id}', '{expiration}', is not a UTC time such as 2026-12-31T23:59:59Z"
                    ));
                }
            }
            if !seen.insert(id.as_str()) {
                return bad(format!("keys: access_key_id '{id}' is listed twice"));
            }
            if let Some(policy) = &key.policy
                && let Err(e) = crate::auth::policy::Policy::parse(policy)
            {
                return bad(format!("keys: the policy of '{id}': {e}"));
            }
        }
        Ok(())
    }
}
