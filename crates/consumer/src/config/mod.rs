//! Settings read from the environment at start-up; a missing or malformed one is named in a one-line error.

use crate::consumer::PipelineSettings;
use gev_core::domain::{DispositionCodeId, MediaType, WrapupPolicy, WrapupTrigger};
use gev_core::secret::Secret;
use gev_genesys::{ClientCredentials, Endpoints, HttpSettings, WrapupStyle};
use std::time::Duration;

mod endpoints;

use endpoints::endpoints;

/// A setting that is missing or malformed. The message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required setting is not set.
    #[error("{name} is not set: {hint}")]
    Missing {
        /// The variable.
        name: &'static str,
        /// What it should hold.
        hint: String,
    },
    /// A setting's value cannot be used.
    #[error("{name} is invalid: {problem}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong with its value.
        problem: String,
    },
}

/// Where the OAuth client's credentials come from.
#[derive(Debug, Clone)]
pub enum CredentialsConfig {
    /// `GENESYS_CLOUD_CLIENT_ID` and `GENESYS_CLOUD_CLIENT_SECRET`.
    Inline(ClientCredentials),
    /// `GENESYS_CLOUD_CREDENTIALS_SECRET_ARN`: a Secrets Manager secret holding
    /// `{"clientId": ..., "clientSecret": ...}`, read at start and again after a refused token request.
    SecretArn(String),
}

/// What every tool needs to reach Genesys Cloud: where it is, and the OAuth client's credentials.
#[derive(Debug, Clone)]
pub struct GenesysAccess {
    /// Where the Genesys API and login service are.
    pub endpoints: Endpoints,
    /// Where the OAuth client's credentials come from.
    pub credentials: CredentialsConfig,
}

impl GenesysAccess {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the Genesys settings through `lookup`; empty values count as unset.
    pub(crate) fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Ok(GenesysAccess {
            endpoints: endpoints(&get)?,
            credentials: credentials(&get)?,
        })
    }

    /// Who acts, for audit records: the OAuth client id, or the secret that holds it. Never
    /// the client secret.
    pub fn who(&self) -> String {
        match &self.credentials {
            CredentialsConfig::Inline(credentials) => credentials.client_id.clone(),
            CredentialsConfig::SecretArn(arn) => format!("the OAuth client in {arn}"),
        }
    }
}

/// Everything the consumer needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the Genesys API and login service are.
    pub endpoints: Endpoints,
    /// Where the OAuth client's credentials come from.
    pub credentials: CredentialsConfig,
    /// The consumer's business settings.
    pub pipeline: PipelineSettings,
    /// Timeouts, rate and retries of the Genesys client.
    pub(crate) http: HttpSettings,
    /// `DEDUP_TABLE_NAME`: dedup in DynamoDB when set, in memory otherwise.
    pub(crate) dedup_table: Option<String>,
}

impl Config {
    /// Checks the lease against an invocation time given otherwise than by the environment
    /// (`invoke --timeout-seconds`), naming both settings when they do not fit.
    pub fn check_invocation_timeout(
        &self,
        timeout: Duration,
        given_by: &str,
    ) -> Result<(), ConfigError> {
        check_lease_covers_invocations(&self.pipeline, Some(timeout), given_by)
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests). Empty values count
    /// as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let endpoints = endpoints(&get)?;
        let credentials = credentials(&get)?;
        let code = get("DISPOSITION_CODE_ID").ok_or(ConfigError::Missing {
            name: "DISPOSITION_CODE_ID",
            hint: "the id of the disposition (wrap-up) code to apply".into(),
        })?;
        let disposition_code =
            DispositionCodeId::parse(&code).map_err(|problem| ConfigError::Invalid {
                name: "DISPOSITION_CODE_ID",
                problem: problem.to_string(),
            })?;

        let mut pipeline = PipelineSettings::new(disposition_code);
        if let Some(ms) = number(&get, "DURATION_THRESHOLD_MS", 0, i64::MAX as u64)? {
            pipeline.duration_threshold_ms = ms as i64;
        }
        if let Some(seconds) = number(&get, "DEDUP_TTL_SECONDS", 60, 366 * 86_400)? {
            pipeline.dedup_ttl = Duration::from_secs(seconds);
        }
        let mut http = HttpSettings::default();
        if let Some(ms) = number(&get, "GENESYS_CLOUD_REQUEST_TIMEOUT_MS", 100, 900_000)? {
            http.request_timeout = Duration::from_millis(ms);
        }
        if let Some(seconds) = number(&get, "DEDUP_LEASE_MAX_SECONDS", 1, 12 * 3_600)? {
            pipeline.max_lease = Duration::from_secs(seconds);
        }
        if let Some(rps) = get("GENESYS_CLOUD_MAX_RPS") {
            let rate: f64 = rps
                .parse()
                .ok()
                .filter(|r: &f64| r.is_finite() && *r > 0.0)
                .ok_or(ConfigError::Invalid {
                    name: "GENESYS_CLOUD_MAX_RPS",
                    problem: format!("{rps:?} is not a positive number of requests per second"),
                })?;
            http.max_requests_per_second = Some(rate);
        }
        if let Some(concurrency) = number(&get, "BATCH_CONCURRENCY", 1, 1_000)? {
            pipeline.batch_concurrency = concurrency as usize;
        }
        native_settings(&get, &mut pipeline)?;
        let function_timeout = function_timeout(&get)?;
        check_lease_covers_invocations(&pipeline, function_timeout, "the function timeout")?;
        let dedup_table = get("DEDUP_TABLE_NAME")
            .map(|name| table_name("DEDUP_TABLE_NAME", name))
            .transpose()?;

        Ok(Config {
            endpoints,
            credentials,
            pipeline,
            http,
            dedup_table,
        })
    }
}

/// The native dialect's settings: media types, how and when the wrap-up is applied, its notes.
fn native_settings(
    get: &impl Fn(&str) -> Option<String>,
    pipeline: &mut PipelineSettings,
) -> Result<(), ConfigError> {
    if let Some(list) = get("NATIVE_MEDIA_TYPES") {
        pipeline.native_media_types = media_types(&list)?;
    }
    if let Some(style) = get("WRAPUP_APPLY_STYLE") {
        pipeline.wrapup_style = one_of(
            "WRAPUP_APPLY_STYLE",
            &style,
            &[
                ("participant", WrapupStyle::Participant),
                ("communication", WrapupStyle::Communication),
            ],
        )?;
    }
    if let Some(trigger) = get("WRAPUP_TRIGGER") {
        pipeline.wrapup_trigger = one_of(
            "WRAPUP_TRIGGER",
            &trigger,
            &[
                ("after-acw", WrapupTrigger::AfterAfterCallWork),
                ("call-end", WrapupTrigger::CallEnd),
            ],
        )?;
    }
    pipeline.wrapup_notes = get("WRAPUP_NOTES");
    pipeline.policy = wrapup_policy(get)?.map(std::sync::Arc::new);
    if let Some(seconds) = number(get, "QUEUE_CACHE_TTL_SECONDS", 1, 86_400)? {
        pipeline.queue_cache_ttl = Duration::from_secs(seconds);
    }
    if let Some(value) = get("WRAPUP_ON_CUSTOMER_END") {
        pipeline.wrapup_on_customer_end = one_of(
            "WRAPUP_ON_CUSTOMER_END",
            &value,
            &[("true", true), ("false", false)],
        )?;
    }
    Ok(())
}

/// `WRAPUP_POLICY` (inline JSON) or `WRAPUP_POLICY_FILE` (a path), not both. Without either,
/// `DISPOSITION_CODE_ID` (with `WRAPUP_NOTES`) is the one rule.
fn wrapup_policy(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<WrapupPolicy>, ConfigError> {
    let (name, text) = match (get("WRAPUP_POLICY"), get("WRAPUP_POLICY_FILE")) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Invalid {
                name: "WRAPUP_POLICY",
                problem: "set either it or WRAPUP_POLICY_FILE, not both".into(),
            });
        }
        (Some(text), None) => ("WRAPUP_POLICY", text),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
                name: "WRAPUP_POLICY_FILE",
                problem: format!("cannot read {path:?}: {e}"),
            })?;
            ("WRAPUP_POLICY_FILE", text)
        }
        (None, None) => return Ok(None),
    };
    let policy = WrapupPolicy::parse(&text).map_err(|e| ConfigError::Invalid {
        name,
        problem: e.to_string(),
    })?;
    Ok(Some(policy))
}

/// The choice `value` names (case-insensitive) among `choices`; else an error listing them.
fn one_of<T: Copy>(
    name: &'static str,
    value: &str,
    choices: &[(&str, T)],
) -> Result<T, ConfigError> {
    let wanted = value.to_ascii_lowercase();
    choices
        .iter()
        .find(|(choice, _)| *choice == wanted)
        .map(|(_, setting)| *setting)
        .ok_or_else(|| ConfigError::Invalid {
            name,
            problem: format!(
                "{value:?} is not one of {}",
                choices
                    .iter()
                    .map(|(choice, _)| *choice)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// The function's timeout, when the deployment says it: `FUNCTION_TIMEOUT_SECONDS` (or
/// `AWS_LAMBDA_FUNCTION_TIMEOUT`, which SAM local and moto set), the longest invocation, checked
/// against the lease at start.
fn function_timeout(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<Duration>, ConfigError> {
    let name = if get("FUNCTION_TIMEOUT_SECONDS").is_some() {
        "FUNCTION_TIMEOUT_SECONDS"
    } else {
        "AWS_LAMBDA_FUNCTION_TIMEOUT"
    };
    Ok(number(get, name, 1, 900)?.map(Duration::from_secs))
}

/// Refuses settings under which one event's lease could end while an invocation still works on
/// it (two invocations would then act on one target), or its record be forgotten before that.
fn check_lease_covers_invocations(
    pipeline: &PipelineSettings,
    function_timeout: Option<Duration>,
    timeout_name: &str,
) -> Result<(), ConfigError> {
    let margin = pipeline.lease_margin;
    if let Some(timeout) = function_timeout
        && pipeline.max_lease < timeout + margin
    {
        return Err(ConfigError::Invalid {
            name: "DEDUP_LEASE_MAX_SECONDS",
            problem: format!(
                "{} s is below {timeout_name} ({} s) plus the {} s lease margin: a lease \
                 would end while its invocation still works; raise it to at least {} s",
                pipeline.max_lease.as_secs(),
                timeout.as_secs(),
                margin.as_secs(),
                (timeout + margin).as_secs()
            ),
        });
    }
    if pipeline.dedup_ttl < pipeline.max_lease {
        return Err(ConfigError::Invalid {
            name: "DEDUP_TTL_SECONDS",
            problem: format!(
                "{} s is below the lease cap DEDUP_LEASE_MAX_SECONDS ({} s): a record would \
                 expire while its lease still holds",
                pipeline.dedup_ttl.as_secs(),
                pipeline.max_lease.as_secs()
            ),
        });
    }
    Ok(())
}

/// The credentials settings: a secret ARN, or an id and secret (not both).
fn credentials(get: &impl Fn(&str) -> Option<String>) -> Result<CredentialsConfig, ConfigError> {
    let arn = get("GENESYS_CLOUD_CREDENTIALS_SECRET_ARN");
    let id = get("GENESYS_CLOUD_CLIENT_ID");
    let secret = get("GENESYS_CLOUD_CLIENT_SECRET");
    match (arn, id, secret) {
        (Some(arn), None, None) => {
            if arn.starts_with("arn:") {
                Ok(CredentialsConfig::SecretArn(arn))
            } else {
                Err(ConfigError::Invalid {
                    name: "GENESYS_CLOUD_CREDENTIALS_SECRET_ARN",
                    problem: format!("{arn:?} is not an ARN (arn:aws:secretsmanager:...)"),
                })
            }
        }
        (Some(_), _, _) => Err(ConfigError::Invalid {
            name: "GENESYS_CLOUD_CREDENTIALS_SECRET_ARN",
            problem:
                "set either it or GENESYS_CLOUD_CLIENT_ID and GENESYS_CLOUD_CLIENT_SECRET, not both"
                    .into(),
        }),
        (None, None, _) => Err(ConfigError::Missing {
            name: "GENESYS_CLOUD_CLIENT_ID",
            hint: "the id of a Genesys Cloud OAuth client with the Client Credentials grant \
                   (or set GENESYS_CLOUD_CREDENTIALS_SECRET_ARN)"
                .into(),
        }),
        (None, Some(_), None) => Err(ConfigError::Missing {
            name: "GENESYS_CLOUD_CLIENT_SECRET",
            hint: "the secret of that OAuth client".into(),
        }),
        (None, Some(client_id), Some(client_secret)) => {
            Ok(CredentialsConfig::Inline(ClientCredentials {
                client_id,
                client_secret: Secret::new(client_secret),
            }))
        }
    }
}

/// `NATIVE_MEDIA_TYPES`: Genesys media types (`VOICE`, `CALLBACK`, `CHAT`, `EMAIL`, `MESSAGE`).
fn media_types(list: &str) -> Result<Vec<MediaType>, ConfigError> {
    let mut types = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let media = MediaType::new(name);
        if media.api_segment().is_none() {
            return Err(ConfigError::Invalid {
                name: "NATIVE_MEDIA_TYPES",
                problem: format!("{name:?} is not one of VOICE, CALLBACK, CHAT, EMAIL, MESSAGE"),
            });
        }
        types.push(media);
    }
    if types.is_empty() {
        return Err(ConfigError::Invalid {
            name: "NATIVE_MEDIA_TYPES",
            problem: "names no media type".into(),
        });
    }
    Ok(types)
}

/// A DynamoDB table name: 3 to 255 of letters, digits, `_`, `-` and `.`.
fn table_name(name: &'static str, value: String) -> Result<String, ConfigError> {
    let valid_chars = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if (3..=255).contains(&value.len()) && valid_chars {
        Ok(value)
    } else {
        Err(ConfigError::Invalid {
            name,
            problem: format!(
                "{value:?} is not a DynamoDB table name (3 to 255 letters, digits, '_', '-', '.')"
            ),
        })
    }
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, ConfigError> {
    let Some(text) = get(name) else {
        return Ok(None);
    };
    let value: u64 = text.parse().map_err(|_| ConfigError::Invalid {
        name,
        problem: format!("{text:?} is not a whole number"),
    })?;
    if value < min || value > max {
        return Err(ConfigError::Invalid {
            name,
            problem: format!("{value} is outside {min}..={max}"),
        });
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::endpoints::{REGIONS, region_domain};
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    const MINIMAL: &[(&str, &str)] = &[
        ("GENESYS_CLOUD_BASE_URL", "http://127.0.0.1:8080/"),
        ("GENESYS_CLOUD_CLIENT_ID", "id"),
        ("GENESYS_CLOUD_CLIENT_SECRET", "secret"),
        ("DISPOSITION_CODE_ID", "code-1"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        MINIMAL.iter().chain(extra).copied().collect()
    }

    #[test]
    fn minimal_settings_give_defaults() {
        let config = config(MINIMAL).unwrap();
        assert_eq!(config.endpoints.api_base, "http://127.0.0.1:8080");
        assert_eq!(config.endpoints.login_base, "http://127.0.0.1:8080");
        assert_eq!(config.pipeline.duration_threshold_ms, 30_000);
        assert_eq!(config.pipeline.dedup_ttl, Duration::from_secs(90_000));
        assert_eq!(config.dedup_table, None);
    }

    #[test]
    fn a_region_domain_sets_both_urls() {
        let vars = [
            ("GENESYS_CLOUD_REGION", "mypurecloud.ie"),
            ("GENESYS_CLOUD_CLIENT_ID", "id"),
            ("GENESYS_CLOUD_CLIENT_SECRET", "secret"),
            ("DISPOSITION_CODE_ID", "code-1"),
        ];
        let config = config(&vars).unwrap();
        assert_eq!(config.endpoints.api_base, "https://api.mypurecloud.ie");
        assert_eq!(config.endpoints.login_base, "https://login.mypurecloud.ie");
    }

    #[test]
    fn every_region_is_known_by_domain_and_by_aws_region() {
        for (domain, aws) in REGIONS {
            assert_eq!(region_domain(domain), Some(*domain));
            assert_eq!(region_domain(aws), Some(*domain));
        }
        assert_eq!(region_domain("EU-WEST-1"), Some("mypurecloud.ie"));
        assert_eq!(REGIONS.len(), 17);
    }

    #[test]
    fn an_unknown_region_is_named_in_the_error() {
        let err = config(&with(&[("GENESYS_CLOUD_REGION", "mars-1")])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("GENESYS_CLOUD_REGION is invalid: \"mars-1\"")
        );
    }

    #[test]
    fn the_login_url_overrides_the_base_url() {
        let config = config(&with(&[(
            "GENESYS_CLOUD_LOGIN_URL",
            "https://login.example",
        )]))
        .unwrap();
        assert_eq!(config.endpoints.login_base, "https://login.example");
    }

    #[test]
    fn a_missing_client_secret_is_named() {
        let vars: Vec<_> = MINIMAL
            .iter()
            .filter(|(k, _)| *k != "GENESYS_CLOUD_CLIENT_SECRET")
            .copied()
            .collect();
        let err = config(&vars).unwrap_err();
        assert_eq!(
            err.to_string(),
            "GENESYS_CLOUD_CLIENT_SECRET is not set: the secret of that OAuth client"
        );
    }

    #[test]
    fn a_missing_base_url_and_region_is_named() {
        let vars: Vec<_> = MINIMAL[1..].to_vec();
        assert!(matches!(
            config(&vars).unwrap_err(),
            ConfigError::Missing {
                name: "GENESYS_CLOUD_BASE_URL",
                ..
            }
        ));
    }

    #[test]
    fn a_base_url_that_is_not_a_url_is_refused() {
        let err = config(&with(&[("GENESYS_CLOUD_BASE_URL", "api.mypurecloud.ie")])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "GENESYS_CLOUD_BASE_URL",
                ..
            }
        ));
    }

    #[test]
    fn the_wrapup_trigger_defaults_to_after_acw_and_call_end_keeps_the_old_behaviour() {
        let default = config(MINIMAL).unwrap();
        let legacy = config(&with(&[("WRAPUP_TRIGGER", "call-end")])).unwrap();
        let bad = config(&with(&[("WRAPUP_TRIGGER", "soon")])).unwrap_err();
        assert_eq!(
            default.pipeline.wrapup_trigger,
            WrapupTrigger::AfterAfterCallWork
        );
        assert_eq!(legacy.pipeline.wrapup_trigger, WrapupTrigger::CallEnd);
        assert!(
            matches!(
                bad,
                ConfigError::Invalid {
                    name: "WRAPUP_TRIGGER",
                    ..
                }
            ),
            "{bad}"
        );
    }

    #[test]
    fn a_base_url_with_a_path_is_refused() {
        let err = config(&with(&[(
            "GENESYS_CLOUD_BASE_URL",
            "https://api.mypurecloud.ie/api/v2",
        )]))
        .unwrap_err();
        assert!(
            matches!(&err, ConfigError::Invalid { name: "GENESYS_CLOUD_BASE_URL", problem } if problem.contains("no path")),
            "{err}"
        );
    }

    #[test]
    fn a_login_url_with_userinfo_is_refused_without_echoing_it() {
        let err = config(&with(&[(
            "GENESYS_CLOUD_LOGIN_URL",
            "https://me:hunter2@login.mypurecloud.ie",
        )]))
        .unwrap_err();
        assert!(
            matches!(
                &err,
                ConfigError::Invalid {
                    name: "GENESYS_CLOUD_LOGIN_URL",
                    ..
                }
            ),
            "{err}"
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn a_lease_cap_below_the_function_timeout_is_refused() {
        let err = config(&with(&[
            ("FUNCTION_TIMEOUT_SECONDS", "300"),
            ("DEDUP_LEASE_MAX_SECONDS", "120"),
        ]))
        .unwrap_err();
        assert!(
            matches!(&err, ConfigError::Invalid { name: "DEDUP_LEASE_MAX_SECONDS", problem } if problem.contains("310 s")),
            "{err}"
        );
    }

    #[test]
    fn the_timeout_sam_local_sets_is_checked_too() {
        let err = config(&with(&[
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "60"),
            ("DEDUP_LEASE_MAX_SECONDS", "30"),
        ]))
        .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Invalid {
                    name: "DEDUP_LEASE_MAX_SECONDS",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_lease_cap_covering_the_timeout_is_accepted() {
        let config = config(&with(&[
            ("FUNCTION_TIMEOUT_SECONDS", "300"),
            ("DEDUP_LEASE_MAX_SECONDS", "310"),
        ]));
        assert!(config.is_ok(), "{config:?}");
    }

    #[test]
    fn a_ttl_below_the_lease_cap_is_refused() {
        let err = config(&with(&[
            ("DEDUP_LEASE_MAX_SECONDS", "3600"),
            ("DEDUP_TTL_SECONDS", "600"),
        ]))
        .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Invalid {
                    name: "DEDUP_TTL_SECONDS",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_malformed_threshold_is_named() {
        let err = config(&with(&[("DURATION_THRESHOLD_MS", "30s")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "DURATION_THRESHOLD_MS is invalid: \"30s\" is not a whole number"
        );
    }

    #[test]
    fn a_disposition_code_with_a_slash_is_refused() {
        let err = config(&with(&[("DISPOSITION_CODE_ID", "a/b")])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "DISPOSITION_CODE_ID",
                ..
            }
        ));
    }

    #[test]
    fn overrides_are_read() {
        let config = config(&with(&[
            ("DURATION_THRESHOLD_MS", "5000"),
            ("DEDUP_TTL_SECONDS", "100000"),
            ("GENESYS_CLOUD_REQUEST_TIMEOUT_MS", "2500"),
        ]))
        .unwrap();
        assert_eq!(config.pipeline.duration_threshold_ms, 5_000);
        assert_eq!(config.pipeline.dedup_ttl, Duration::from_secs(100_000));
        assert_eq!(config.http.request_timeout, Duration::from_millis(2_500));
    }

    #[test]
    fn a_dedup_table_and_lease_cap_are_read() {
        let config = config(&with(&[
            ("DEDUP_TABLE_NAME", "genesys-dedup"),
            ("DEDUP_LEASE_MAX_SECONDS", "120"),
        ]))
        .unwrap();
        assert_eq!(config.dedup_table.as_deref(), Some("genesys-dedup"));
        assert_eq!(config.pipeline.max_lease, Duration::from_secs(120));
    }

    #[test]
    fn a_malformed_table_name_is_named() {
        let err = config(&with(&[("DEDUP_TABLE_NAME", "my table")])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "DEDUP_TABLE_NAME",
                ..
            }
        ));
    }

    #[test]
    fn a_secret_arn_replaces_the_inline_credentials() {
        let vars = [
            ("GENESYS_CLOUD_BASE_URL", "http://127.0.0.1:8080"),
            (
                "GENESYS_CLOUD_CREDENTIALS_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:1:secret:g",
            ),
            ("DISPOSITION_CODE_ID", "code-1"),
        ];
        let config = config(&vars).unwrap();
        assert!(
            matches!(config.credentials, CredentialsConfig::SecretArn(ref arn) if arn.ends_with(":g"))
        );
    }

    #[test]
    fn a_secret_arn_and_inline_credentials_together_are_refused() {
        let err = config(&with(&[(
            "GENESYS_CLOUD_CREDENTIALS_SECRET_ARN",
            "arn:aws:x",
        )]))
        .unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
    }

    #[test]
    fn the_rate_limit_and_batch_concurrency_are_read() {
        let config = config(&with(&[
            ("GENESYS_CLOUD_MAX_RPS", "12.5"),
            ("BATCH_CONCURRENCY", "4"),
        ]))
        .unwrap();
        assert_eq!(config.http.max_requests_per_second, Some(12.5));
        assert_eq!(config.pipeline.batch_concurrency, 4);
    }

    #[test]
    fn a_zero_rate_limit_is_refused() {
        let err = config(&with(&[("GENESYS_CLOUD_MAX_RPS", "0")])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "GENESYS_CLOUD_MAX_RPS",
                ..
            }
        ));
    }

    #[test]
    fn native_settings_are_read() {
        let config = config(&with(&[
            ("NATIVE_MEDIA_TYPES", "voice, callback"),
            ("WRAPUP_APPLY_STYLE", "communication"),
            ("WRAPUP_NOTES", "set by genesys-eventbridge"),
        ]))
        .unwrap();
        assert_eq!(
            config.pipeline.native_media_types,
            [MediaType::new("VOICE"), MediaType::new("CALLBACK")]
        );
        assert_eq!(config.pipeline.wrapup_style, WrapupStyle::Communication);
        assert_eq!(
            config.pipeline.wrapup_notes.as_deref(),
            Some("set by genesys-eventbridge")
        );
    }

    #[test]
    fn an_unknown_media_type_is_named() {
        let err = config(&with(&[("NATIVE_MEDIA_TYPES", "VOICE,FAX")])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("NATIVE_MEDIA_TYPES is invalid: \"FAX\""),
            "{err}"
        );
    }

    #[test]
    fn the_native_defaults_are_voice_and_the_participant_patch() {
        let config = config(MINIMAL).unwrap();
        assert_eq!(config.pipeline.native_media_types, [MediaType::voice()]);
        assert_eq!(config.pipeline.wrapup_style, WrapupStyle::Participant);
    }

    #[test]
    fn the_secret_does_not_appear_in_debug_output() {
        let config = config(MINIMAL).unwrap();
        assert!(!format!("{config:?}").contains("\"secret\""));
    }
}
