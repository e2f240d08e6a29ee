//! Where Genesys Cloud is: the regions, and the API and login base URLs from the settings.

use super::ConfigError;
use gev_genesys::Endpoints;

/// Genesys Cloud regions: (domain, AWS region the org runs in).
pub(crate) const REGIONS: &[(&str, &str)] = &[
    ("mypurecloud.com", "us-east-1"),
    ("use2.us-gov-pure.cloud", "us-east-2"),
    ("usw2.pure.cloud", "us-west-2"),
    ("cac1.pure.cloud", "ca-central-1"),
    ("sae1.pure.cloud", "sa-east-1"),
    ("mxc1.pure.cloud", "mx-central-1"),
    ("mypurecloud.ie", "eu-west-1"),
    ("euw2.pure.cloud", "eu-west-2"),
    ("mypurecloud.de", "eu-central-1"),
    ("euc2.pure.cloud", "eu-central-2"),
    ("mec1.pure.cloud", "me-central-1"),
    ("aps1.pure.cloud", "ap-south-1"),
    ("apse1.pure.cloud", "ap-southeast-1"),
    ("mypurecloud.com.au", "ap-southeast-2"),
    ("mypurecloud.jp", "ap-northeast-1"),
    ("apne2.pure.cloud", "ap-northeast-2"),
    ("apne3.pure.cloud", "ap-northeast-3"),
];

/// The API and login base URLs from `GENESYS_CLOUD_BASE_URL`, `GENESYS_CLOUD_LOGIN_URL` and
/// `GENESYS_CLOUD_REGION`. Explicit URLs win over the region.
pub(super) fn endpoints(get: &impl Fn(&str) -> Option<String>) -> Result<Endpoints, ConfigError> {
    let region = match get("GENESYS_CLOUD_REGION") {
        Some(region) => Some(region_domain(&region).ok_or_else(|| ConfigError::Invalid {
            name: "GENESYS_CLOUD_REGION",
            problem: format!(
                "{region:?} is not a Genesys Cloud region; use a domain such as mypurecloud.ie \
                 or an AWS region such as eu-west-1 (known: {})",
                REGIONS.iter().map(|(domain, _)| *domain).collect::<Vec<_>>().join(", ")
            ),
        })?),
        None => None,
    };
    let api_base = match (get("GENESYS_CLOUD_BASE_URL"), region) {
        (Some(url), _) => base_url("GENESYS_CLOUD_BASE_URL", &url)?,
        (None, Some(domain)) => format!("https://api.{domain}"),
        (None, None) => {
            return Err(ConfigError::Missing {
                name: "GENESYS_CLOUD_BASE_URL",
                hint: "set it (e.g. https://api.mypurecloud.ie) or GENESYS_CLOUD_REGION (e.g. mypurecloud.ie)"
                    .into(),
            })
        }
    };
    let login_base = match (get("GENESYS_CLOUD_LOGIN_URL"), region) {
        (Some(url), _) => base_url("GENESYS_CLOUD_LOGIN_URL", &url)?,
        (None, Some(domain)) => format!("https://login.{domain}"),
        (None, None) => api_base.clone(),
    };
    Ok(Endpoints {
        api_base,
        login_base,
    })
}

/// The Genesys Cloud domain for a domain or an AWS region name.
pub(crate) fn region_domain(region: &str) -> Option<&'static str> {
    let region = region.trim().trim_end_matches('.').to_ascii_lowercase();
    REGIONS
        .iter()
        .find(|(domain, aws)| *domain == region || *aws == region)
        .map(|(domain, _)| *domain)
}

fn base_url(name: &'static str, value: &str) -> Result<String, ConfigError> {
    let invalid = |problem: &str| ConfigError::Invalid {
        name,
        problem: format!("{value:?} {problem}"),
    };
    let url = reqwest::Url::parse(value).map_err(|e| invalid(&format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(
            "must start with https:// (or http:// for a local simulator)",
        ));
    }
    if url.host_str().is_none() || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "must be a base URL such as https://api.mypurecloud.ie",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Userinfo would be sent along and land in spans and logs; credentials have their own settings.
        return Err(ConfigError::Invalid {
            name,
            problem: "must not carry a user name or password (set the OAuth client with \
                      GENESYS_CLOUD_CLIENT_ID / GENESYS_CLOUD_CREDENTIALS_SECRET_ARN)"
                .into(),
        });
    }
    if url.path() != "/" {
        return Err(invalid(
            "must have no path: the client adds /api/v2/... and /oauth/token itself \
             (use e.g. https://api.mypurecloud.ie)",
        ));
    }
    Ok(value.trim_end_matches('/').to_owned())
}
