//! Progress bars on a terminal, silence elsewhere: scripts and CI logs get no control characters.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use geoconsole_app::ImportCounters;
use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether bars should be drawn: stderr is a terminal and the user did not ask for quiet or JSON.
pub fn enabled(quiet: bool, json: bool) -> bool {
    !quiet && !json && std::io::stderr().is_terminal()
}

fn bar(total: Option<u64>, template: &str, enabled: bool) -> ProgressBar {
    let bar = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::new_spinner(),
    };
    if !enabled {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let style =
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar
}

/// A bar over the bytes of a file being imported, with the feature count as its message. It follows the
/// import's counters from a background task until the returned guard is finished.
pub fn import_bar(file_bytes: u64, counters: Arc<ImportCounters>, enabled: bool) -> ProgressBar {
    let bar = bar(
        Some(file_bytes),
        "{spinner} importing [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
        enabled,
    );
    if enabled {
        let follow = bar.clone();
        tokio::spawn(async move {
            let mut by_features = false;
            while !follow.is_finished() {
                let bytes = counters.bytes_read.load(Ordering::Relaxed);
                // Formats read by path (FlatGeobuf, shapefiles, GeoPackage, GeoParquet, zips) do not count
                // bytes: the bar then follows the features instead of sitting at zero.
                if !by_features && bytes == 0 && counters.features.load(Ordering::Relaxed) > 0 {
                    by_features = true;
                    follow.set_style(
                        ProgressStyle::with_template("{spinner} importing {msg} ({elapsed})")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                }
                follow.set_position(bytes);
                let rejected = counters.rejected.load(Ordering::Relaxed);
                let features = HumanCount(counters.features.load(Ordering::Relaxed));
                let read_all =
                    !by_features && follow.length().is_some_and(|len| follow.position() >= len);
                let mut message = format!("{features} features");
                if rejected > 0 {
                    message.push_str(&format!(", {} rejected", HumanCount(rejected)));
                }
                if read_all {
                    // The file is read; what remains is writing the last rows, indexing and committing.
                    message.push_str(", indexing and committing");
                }
                follow.set_message(message);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }
    bar
}

/// A bar over a known number of items (generated features).
pub fn count_bar(total: u64, what: &str, enabled: bool) -> ProgressBar {
    bar(
        Some(total),
        &format!(
            "{{spinner}} {what} [{{bar:30}}] {{human_pos}}/{{human_len}} {{per_sec}} eta {{eta}}"
        ),
        enabled,
    )
}
