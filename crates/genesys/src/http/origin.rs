//! An endpoint's base URL, parsed once, with the server address and port its spans carry.

/// An endpoint's base URL, parsed once: request URLs are made from it without parsing again,
/// and its `server.address` and `server.port` go on every span.
#[derive(Debug, Clone)]
pub(super) struct Origin {
    base: reqwest::Url,
    pub(super) host: String,
    pub(super) port: u16,
}

impl Origin {
    pub(super) fn of(base: &str) -> Result<Self, url::ParseError> {
        let base = reqwest::Url::parse(base)?;
        Ok(Origin {
            host: base.host_str().unwrap_or_default().to_owned(),
            port: base.port_or_known_default().unwrap_or(0),
            base,
        })
    }

    /// The URL of `path` (which starts with `/` and holds only URL-safe characters) under
    /// the base, whose own path is kept as a prefix.
    pub(super) fn url(&self, path: &str) -> reqwest::Url {
        let mut url = self.base.clone();
        let prefix = self.base.path().trim_end_matches('/');
        url.set_path(&format!("{prefix}{path}"));
        url
    }
}
