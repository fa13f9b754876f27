//! Room `feeds`: the world's public hazard feeds, read safely. It owns feed definitions ([`FeedSpec`]),
//! the network guard every outbound URL passes ([`NetworkPolicy`]: feeds and webhooks), guarded HTTP
//! fetching with conditional GET and caps ([`Fetcher`]), readers for the feed formats (CAP 1.2, CAP in
//! Atom/RSS indexes, api.weather.gov alerts, GeoRSS/GDACS, USGS, FIRMS, generic GeoJSON/CSV), the
//! data-protection check of what every reader made ([`check_items`]), and each feed's health record and
//! backoff schedule ([`FeedState`]), the connectors that read whole layers from ArcGIS REST, Socrata
//! SODA, OGC API – Features and WFS 2.0 services page by page ([`connectors`]), and the catalog of public
//! sources worth adding ([`catalog`]).
//!
//! Depends on `model` and `formats` (the generic readers), and on reqwest, quick-xml and flate2. It knows
//! nothing of stores or the console: the app room polls, writes the items through the one write path and
//! keeps the state.
#![forbid(unsafe_code)]

pub mod catalog;
pub mod connectors;
mod fetch;
mod guard;
mod health;
mod read;
mod spec;

pub use fetch::{FetchError, FetchErrorKind, FetchLimits, Fetched, Fetcher, Validators};
pub use guard::{NetworkPolicy, Refused, guarded};
pub use health::{FeedState, Lag, PollCounts, Status};
pub use read::{
    Action, CAP_STATE, FeedItem, Linked, Parsed, Unplaced, Withdrawal, check_items, detect_file,
    read, read_fetched, read_file,
};
pub use spec::{
    AreaSource, FeedFormat, FeedSpec, Footprint, KEY_PLACEHOLDER, MAX_AREA_SOURCES, MAX_LINKED,
    MAX_TIMEOUT_MS, MIN_INTERVAL_S,
};
