//! The Genesys Cloud simulator behind `genesys-sim`: tokens, interactions (tutorial dialect),
//! conversations (native dialect), and counts of the changes each received.
//!
//! It checks client credentials on `POST /oauth/token`, serves interactions and conversations
//! seeded from a file, really applies dispositions (`PATCH /api/v2/interactions/{id}`) and
//! wrap-ups (`PATCH .../participants/{id}` or `POST .../communications/{id}/wrapup`), and counts
//! the writes each interaction or participant received (`GET /sim/patches`).

mod admin;
mod analytics;
mod answers;
mod conversations;
mod faults;
mod integrations;
mod interactions;
mod notifications;
mod oauth;
mod requests;
mod routing;
mod seed;
mod socket;

pub use faults::{FaultSpecError, Faults};
pub use integrations::ORG_ID;
use integrations::{
    SimIntegration, available_topics, bump_integration, create_integration, get_config,
    get_integration, list_integrations, organization, patch_integration, properties_schema,
    put_config,
};
pub use notifications::{ChannelFault, SocketFaults};
pub use requests::{ReceivedRequest, RequestBudget};
pub use seed::{BodyError, SeedData, SeedError};

use admin::{all_patches, one_patch_count};
use answers::add_correlation_id;
use axum::Router;
use axum::http::{HeaderMap, header};
use axum::routing::{get, patch, post, put};
use base64::Engine;
use conversations::{
    get_conversation, get_media_conversation, patch_participant, post_communication_wrapup,
};
use faults::{Injector, get_faults, inject_faults, put_faults};
use gev_core::domain::MediaType;
use interactions::{get_interaction, patch_interaction, put_interaction};
use oauth::{issue_token, require_token};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// The key of an interaction's simulator-only settings inside a seed entry.
pub(crate) const BEHAVIOUR_KEY: &str = "x-sim";

/// Credentials and token lifetime of the simulated organisation.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The OAuth client id the token service accepts.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// How long an issued token lives.
    pub token_lifetime: Duration,
    /// How long a notification channel lives without a new subscription.
    pub channel_lifetime: Duration,
    /// How often sockets send a heartbeat.
    pub heartbeat_interval: Duration,
    /// The OAuth client's request budget (429 past it); `None`: unlimited.
    pub request_budget: Option<RequestBudget>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            client_id: "demo-client".into(),
            client_secret: "demo-secret".into(),
            token_lifetime: Duration::from_secs(86_400),
            channel_lifetime: Duration::from_secs(86_400),
            heartbeat_interval: Duration::from_secs(30),
            request_budget: None,
        }
    }
}

/// Per-interaction simulator settings (`"x-sim"` in the seed file).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Behaviour {
    /// Answer every PATCH with this status instead of applying it (e.g. 409).
    pub(crate) patch_status: Option<u16>,
    /// Answer every GET with this status instead of the interaction (e.g. 403).
    pub(crate) get_status: Option<u16>,
    /// Answer a GET with the state read on arrival, this many ms later (a lagging replica: a
    /// write landing meanwhile is not in the answer).
    pub(crate) stale_read_ms: Option<u64>,
    /// Apply every write, then answer it with this status (e.g. 502: a gateway lost the answer).
    pub(crate) status_after_write: Option<u16>,
}

#[derive(Debug, Clone)]
struct SimInteraction {
    body: Map<String, Value>,
    behaviour: Behaviour,
}

/// How many writes an interaction (or participant) received, how many of them changed it, and
/// how many times a simulated concurrent writer changed it instead (injected 409s).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchCount {
    /// Writes received.
    pub received: u64,
    /// Writes that changed the target.
    pub applied: u64,
    #[serde(default)]
    /// Changes a simulated concurrent writer made instead (injected 409s).
    pub foreign: u64,
}

/// The code a simulated concurrent writer sets before answering 409.
pub const FOREIGN_CODE: &str = "set-by-a-concurrent-writer";

#[derive(Debug)]
struct Books {
    interactions: HashMap<String, SimInteraction>,
    /// Conversations by (API path segment, id).
    conversations: HashMap<(String, String), SimInteraction>,
    tokens: HashMap<String, Instant>,
    patches: BTreeMap<String, PatchCount>,
    injector: Injector,
    integrations: BTreeMap<String, SimIntegration>,
    /// Every write request to the Integrations API, in order.
    integration_writes: Vec<String>,
    routing: routing::RoutingBook,
    integration_faults: integrations::IntegrationFaults,
}

impl Default for Books {
    fn default() -> Self {
        Books {
            interactions: HashMap::new(),
            conversations: HashMap::new(),
            tokens: HashMap::new(),
            patches: BTreeMap::new(),
            injector: Injector::new(Faults::default()),
            integrations: BTreeMap::new(),
            integration_writes: Vec::new(),
            routing: routing::RoutingBook::default(),
            integration_faults: integrations::IntegrationFaults::default(),
        }
    }
}

/// The simulator's state; clone it to share.
#[derive(Debug, Clone)]
pub struct Simulator {
    books: Arc<Mutex<Books>>,
    config: Arc<SimConfig>,
    bus: super::eventbridge::BusStandIn,
    channels: Arc<Mutex<notifications::Channels>>,
    requests: Arc<Mutex<requests::RequestBook>>,
}

impl Simulator {
    /// A simulator with no data yet.
    pub fn new(config: SimConfig) -> Self {
        Simulator {
            books: Arc::default(),
            config: Arc::new(config),
            bus: super::eventbridge::BusStandIn::default(),
            channels: Arc::default(),
            requests: Arc::default(),
        }
    }

    /// Adds (or replaces) the seeded interactions.
    pub fn seed(&self, data: SeedData) -> Result<usize, SeedError> {
        let count = data.interactions.len() + data.conversations.len();
        for (index, entry) in data.wrapup_codes.into_iter().enumerate() {
            self.put_wrapup_code(entry)
                .map_err(|problem| SeedError::Entry {
                    index,
                    problem: format!("wrapupCodes: {problem}"),
                })?;
        }
        for (index, entry) in data.queues.into_iter().enumerate() {
            self.put_queue(entry).map_err(|problem| SeedError::Entry {
                index,
                problem: format!("queues: {problem}"),
            })?;
        }
        for (index, entry) in data.interactions.into_iter().enumerate() {
            self.put_interaction(entry)
                .map_err(|problem| SeedError::Entry {
                    index,
                    problem: problem.to_string(),
                })?;
        }
        for (index, entry) in data.conversations.into_iter().enumerate() {
            self.put_conversation(entry)
                .map_err(|problem| SeedError::Entry {
                    index,
                    problem: format!("conversations: {problem}"),
                })?;
        }
        Ok(count)
    }

    /// Adds or replaces one conversation given as the API would return it (plus `"x-sim"`).
    pub fn put_conversation(&self, mut body: Map<String, Value>) -> Result<(), BodyError> {
        let id = routing::string_id(&body)?;
        let media = body
            .remove("mediaType")
            .and_then(|m| m.as_str().map(MediaType::new))
            .unwrap_or_else(MediaType::voice);
        let Some(segment) = media.api_segment() else {
            return Err(BodyError::NoApiPath { media, id });
        };
        let behaviour = behaviour_of(&mut body, &id)?;
        self.books()
            .conversations
            .insert((segment.to_owned(), id), SimInteraction { body, behaviour });
        Ok(())
    }

    /// Every conversation as a GET would return it now.
    pub(crate) fn conversations(&self) -> Vec<Value> {
        self.books()
            .conversations
            .values()
            .map(|c| Value::Object(c.body.clone()))
            .collect()
    }

    /// The conversation as a GET would return it now.
    pub fn conversation(&self, id: &str) -> Option<Value> {
        self.books()
            .conversations
            .iter()
            .find(|((_, conversation), _)| conversation == id)
            .map(|(_, c)| Value::Object(c.body.clone()))
    }

    /// Adds or replaces one interaction given as the API would return it (plus `"x-sim"`).
    pub fn put_interaction(&self, mut body: Map<String, Value>) -> Result<(), BodyError> {
        let id = routing::string_id(&body)?;
        let behaviour = behaviour_of(&mut body, &id)?;
        self.books()
            .interactions
            .insert(id, SimInteraction { body, behaviour });
        Ok(())
    }

    /// The interaction as a GET would return it now.
    pub fn interaction(&self, id: &str) -> Option<Value> {
        self.books()
            .interactions
            .get(id)
            .map(|i| Value::Object(i.body.clone()))
    }

    /// Sets the faults to inject from now on (and reseeds their generator).
    pub fn set_faults(&self, faults: Faults) {
        self.books().injector = Injector::new(faults);
    }

    /// The faults configured, and how many of each were injected so far.
    pub fn faults(&self) -> (Faults, BTreeMap<&'static str, u64>) {
        let books = self.books();
        (
            books.injector.faults.clone(),
            books.injector.injected.clone(),
        )
    }

    /// PATCH counts per interaction id.
    pub fn patch_counts(&self) -> BTreeMap<String, PatchCount> {
        self.books().patches.clone()
    }

    /// Every write request the Integrations API received, in order (`METHOD path`).
    pub fn integration_writes(&self) -> Vec<String> {
        self.books().integration_writes.clone()
    }

    /// The integrations' ids.
    pub fn integration_ids(&self) -> Vec<String> {
        self.books().integrations.keys().cloned().collect()
    }

    /// The router serving the simulated API.
    pub(crate) fn router(&self) -> Router {
        let api = Router::new()
            .route(
                "/api/v2/interactions/{id}",
                get(get_interaction).patch(patch_interaction),
            )
            .route("/api/v2/conversations/{id}", get(get_conversation))
            .route("/api/v2/conversations/{segment}/{id}", get(get_media_conversation))
            .route(
                "/api/v2/conversations/{segment}/{id}/participants/{participant}",
                patch(patch_participant),
            )
            .route(
                "/api/v2/conversations/{segment}/{id}/participants/{participant}/communications/{communication}/wrapup",
                post(post_communication_wrapup),
            )
            .route(
                "/api/v2/integrations",
                get(list_integrations).post(create_integration),
            )
            .route(
                "/api/v2/integrations/{id}",
                get(get_integration).patch(patch_integration),
            )
            .route(
                "/api/v2/integrations/{id}/config/current",
                get(get_config).put(put_config),
            )
            .route(
                "/api/v2/integrations/types/amazon-eventbridge-source/configschemas/properties",
                get(properties_schema),
            )
            .route("/api/v2/notifications/availabletopics", get(available_topics))
            .route("/api/v2/notifications/channels", post(notifications::create_channel))
            .route(
                "/api/v2/analytics/conversations/details/query",
                post(analytics::details_query),
            )
            .route("/api/v2/routing/queues", get(routing::list_queues))
            .route("/api/v2/routing/queues/{id}", get(routing::get_queue))
            .route(
                "/api/v2/routing/queues/{id}/wrapupcodes",
                get(routing::queue_wrapup_codes),
            )
            .route("/api/v2/routing/wrapupcodes", get(routing::list_wrapup_codes))
            .route("/api/v2/routing/wrapupcodes/{id}", get(routing::get_wrapup_code))
            .route(
                "/api/v2/notifications/channels/{id}",
                axum::routing::head(notifications::head_channel),
            )
            .route(
                "/api/v2/notifications/channels/{id}/subscriptions",
                get(notifications::get_subscriptions)
                    .put(notifications::put_subscriptions)
                    .post(notifications::post_subscriptions)
                    .delete(notifications::delete_subscriptions),
            )
            .route("/api/v2/organizations/me", get(organization))
            .route_layer(axum::middleware::from_fn_with_state(self.clone(), require_token))
            .layer(axum::middleware::from_fn_with_state(self.clone(), inject_faults));
        let genesys = Router::new()
            .route("/oauth/token", post(issue_token))
            .merge(api)
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                requests::log_and_limit,
            ));
        Router::new()
            .merge(genesys)
            .route(
                "/sim/requests",
                get(requests::list_requests).delete(requests::clear_requests),
            )
            .route("/sim/requests/stats", get(requests::request_stats))
            .route("/sim/faults", get(get_faults).put(put_faults))
            .route("/sim/patches", get(all_patches))
            .route("/sim/patches/{id}", get(one_patch_count))
            .route("/sim/interactions/{id}", put(put_interaction))
            .route(
                "/sim/conversations/{id}",
                put(conversations::put_conversation),
            )
            .route("/sim/integrations/{id}/bump", put(bump_integration))
            .route("/sim/integrations/faults", put(integrations::put_faults))
            .route("/sim/health", get(|| async { "ok" }))
            .route("/channels/{id}", get(socket::connect))
            .route("/sim/notifications/publish", post(notifications::publish))
            .route("/sim/notifications/generate", post(notifications::generate))
            .route(
                "/sim/notifications/channels",
                get(notifications::list_channels),
            )
            .route(
                "/sim/notifications/channels/{id}/fault",
                post(notifications::inject),
            )
            .route("/sim/notifications/faults", put(notifications::put_faults))
            .layer(axum::middleware::map_response(add_correlation_id))
            .with_state(self.clone())
            .merge(self.bus.router())
    }

    /// The EventBridge stand-in served beside the Genesys API (`POST /`).
    pub fn bus(&self) -> &super::eventbridge::BusStandIn {
        &self.bus
    }

    /// Serves on `listener` until the task is dropped or aborted.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }

    /// Binds `addr` and serves in a background task; returns the bound address.
    pub async fn spawn(self, addr: SocketAddr) -> std::io::Result<RunningSim> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(self.clone().serve(listener));
        Ok(RunningSim {
            addr,
            simulator: self,
            task,
        })
    }

    fn books(&self) -> MutexGuard<'_, Books> {
        gev_core::locks::lock(&self.books)
    }

    fn requests(&self) -> MutexGuard<'_, requests::RequestBook> {
        gev_core::locks::lock(&self.requests)
    }

    fn channels(&self) -> MutexGuard<'_, notifications::Channels> {
        gev_core::locks::lock(&self.channels)
    }

    /// Revokes every token issued so far (their next use gets 401).
    pub(crate) fn revoke_tokens(&self) {
        self.books().tokens.clear();
    }

    fn token_is_valid(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
        else {
            return false;
        };
        self.books()
            .tokens
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires)
    }

    fn credentials_match(&self, headers: &HeaderMap) -> bool {
        let decoded = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Basic "))
            .and_then(|encoded| {
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .ok()
            })
            .and_then(|bytes| String::from_utf8(bytes).ok());
        let expected = format!("{}:{}", self.config.client_id, self.config.client_secret);
        decoded.is_some_and(|pair| pair == expected)
    }
}

/// Takes the `"x-sim"` settings out of the body of interaction or conversation `id`.
fn behaviour_of(body: &mut Map<String, Value>, id: &str) -> Result<Behaviour, BodyError> {
    match body.remove(BEHAVIOUR_KEY) {
        Some(value) => serde_json::from_value(value).map_err(|source| BodyError::Behaviour {
            id: id.to_owned(),
            source,
        }),
        None => Ok(Behaviour::default()),
    }
}

/// A simulator serving in the background (tests, benchmarks). Stops when dropped.
#[derive(Debug)]
pub struct RunningSim {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// Its state, for seeding and reading counts.
    pub simulator: Simulator,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningSim {
    /// `http://{addr}`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}
