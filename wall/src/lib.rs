//! The dieuhanh video wall: a layout file describes the physical wall and its scenes; the wall
//! subscribes to each panel's view on the server, keeps the data, and draws the current scene
//! with wgpu on every screen (or into a PNG).
//!
//! - [`layout`]: the technician's layout file (screens, bezels, outputs, scenes, panels), parsed
//!   and validated with line and column.
//! - [`catalogue`]: the indicators, agencies and unit codes a layout may name (from `assets/`).
//! - [`data`]: the cells the wall holds, their labels, recent changes, how fresh the feed is.
//! - [`live`]: the `/live` client: subscriptions, resume after a drop, one-shot fetch.
//! - [`snapshot`]: snapshot files for previews, exports and golden tests.
//! - [`widgets`]: KPI tile, line/area chart, ranked bars, table, ticker, header — what to draw.
//! - [`map`]: the provinces' shapes (projected and tessellated once) for map panels.
//! - [`draw`]: the display list (triangles and text runs in canvas pixels) and the palette.
//! - [`scene`]: views per panel, a scene's display list, where screens go in a target.
//! - [`render`]: wgpu device, shape and text pipelines, offscreen targets and PNGs — how to draw.
//! - [`app`]: `run`: one window per output, live data, scene keys, layout reload.
//! - [`monitors`]: which monitor each of `run`'s windows goes to, and what does not match.

pub mod app;
pub mod catalogue;
pub mod data;
pub mod draw;
pub mod layout;
pub mod live;
pub mod map;
pub mod monitors;
pub mod render;
pub mod scene;
pub mod snapshot;
pub mod widgets;

use std::path::Path;

use dieuhanh_protocol::live::RoomState;

use crate::data::WallData;
use crate::draw::{DisplayList, theme};
use crate::layout::{Layout, Scene};
use crate::render::text::TextShaper;
use crate::render::{Gpu, Image, OFFSCREEN_FORMAT, Offscreen, RenderError, Renderer, ScreenMap};

/// Renders `scene` of `layout` with `data` at `now_ms` into an image of the whole wall (the
/// screens side by side, what is under bezels left out), or with `size` the whole wall scaled
/// into that many pixels, letterboxed (previews).
pub fn render_scene(
    gpu: &Gpu,
    layout: &Layout,
    scene: &Scene,
    data: &WallData,
    room: &RoomState,
    now_ms: i64,
    size: Option<[u32; 2]>,
) -> Result<Image, RenderError> {
    let (screens, target) = match size {
        Some(s) => (scene::scaled_screens(layout, s), s),
        None => scene::wall_screens(layout),
    };
    render_screens(gpu, layout, scene, data, room, now_ms, (&screens, target))
}

/// Renders `scene` as `screens` place it into an image of `target` pixels (the conference
/// feed: [`scene::feed_screens`]).
pub fn render_screens(
    gpu: &Gpu,
    layout: &Layout,
    scene: &Scene,
    data: &WallData,
    room: &RoomState,
    now_ms: i64,
    (screens, target): (&[ScreenMap], [u32; 2]),
) -> Result<Image, RenderError> {
    let mut shaper = TextShaper::new();
    let mut renderer = Renderer::new(gpu, OFFSCREEN_FORMAT);
    let mut list = DisplayList::default();
    scene::compose(layout, scene, data, room, now_ms, &mut shaper, &mut list);
    let offscreen = Offscreen::new(gpu, target)?;
    renderer.prepare(gpu, &mut shaper, &list, theme::BACKGROUND, screens, target)?;
    offscreen.capture(gpu, &renderer)
}

/// The layout's scene named `name`, or its first.
pub fn pick_scene<'a>(layout: &'a Layout, name: Option<&str>) -> Result<&'a Scene, String> {
    match name {
        Some(n) => layout.scene(n).ok_or_else(|| {
            let names: Vec<&str> = layout.scenes.iter().map(|s| s.name.as_str()).collect();
            format!(
                "{}: no scene {n:?}; the layout has {}",
                layout.file.display(),
                names.join(", ")
            )
        }),
        None => layout
            .scenes
            .first()
            .ok_or_else(|| format!("{}: the layout has no scene", layout.file.display())),
    }
}

/// Whether `path` looks like a layout file's folder entry (for reload watching).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
