//! `dieuhanh-wall run`: one borderless full-screen window per output of the layout, plus the
//! video-conference feed when the layout has a `[feed]` (ordinary windows with `--windowed`), all
//! drawn by one device from one display list per frame, so every screen — and the conference —
//! changes together. Live data from the server; PageDown/PageUp and number keys switch
//! scenes (presenter clickers send these) and a touch or click on a ranked bar drills down to
//! its unit (Escape back) — on a wall of a room, by asking the room, so every wall of it
//! changes; room control from a presenter is applied at the time the server stamps; the layout file is watched and reloaded, an invalid edit shown on screen
//! while the last good layout stays up.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dieuhanh_protocol::live::{ReportKey, RoomField, RoomState, ServerMessage};
use notify::Watcher;
use thiserror::Error;
use tracing::Instrument;
use winit::application::ApplicationHandler;
use winit::dpi::{PhysicalPosition, PhysicalSize};
use winit::event::{ElementState, KeyEvent, MouseButton, StartCause, TouchPhase, WindowEvent};
use winit::event_loop::{ActiveEventLoop, ControlFlow, EventLoop};
use winit::keyboard::{Key, NamedKey};
use winit::monitor::MonitorHandle;
use winit::window::{Fullscreen, Window, WindowId};

use crate::catalogue::Catalogue;
use crate::data::{Feed, WallData};
use crate::draw::{DisplayList, TextStyle, theme};
use crate::layout::{self, Layout, Rect};
use crate::live::{self, Command, Event};
use crate::monitors::{self, Monitor};
use crate::render::text::{TextShaper, Weight};
use crate::render::{Gpu, RenderError, Renderer, ScreenMap};
use crate::scene;

/// Why the wall could not run.
#[derive(Debug, Error)]
pub enum AppError {
    /// No window system (no X display).
    #[error(
        "cannot open windows: {0}. Set DISPLAY to an X server (the wall uses X11), or render \
         PNGs with `dieuhanh-wall render`"
    )]
    EventLoop(String),
    /// The layout is invalid at start.
    #[error("{0}")]
    Layout(String),
    /// The server URL is wrong.
    #[error("{0}")]
    Live(#[from] live::LiveError),
    /// Drawing failed.
    #[error("{0}")]
    Render(#[from] RenderError),
}

/// A monitor as the layout's `monitor =` and the messages name it.
fn monitor_of(m: &MonitorHandle) -> Monitor {
    let (size, position) = (m.size(), m.position());
    Monitor {
        name: m.name(),
        position: [position.x, position.y],
        size: [size.width, size.height],
        refresh_mhz: m.refresh_rate_millihertz(),
    }
}

/// The monitors the window system reports (`dieuhanh-wall monitors`): starts the event loop
/// only to ask, opens no window.
pub fn list_monitors() -> Result<Vec<Monitor>, AppError> {
    struct Ask(Vec<Monitor>);
    impl ApplicationHandler for Ask {
        fn resumed(&mut self, event_loop: &ActiveEventLoop) {
            self.0 = event_loop
                .available_monitors()
                .map(|m| monitor_of(&m))
                .collect();
            event_loop.exit();
        }
        fn window_event(&mut self, _: &ActiveEventLoop, _: WindowId, _: WindowEvent) {}
    }
    let event_loop = EventLoop::new().map_err(|e| AppError::EventLoop(e.to_string()))?;
    let mut ask = Ask(Vec::new());
    event_loop
        .run_app(&mut ask)
        .map_err(|e| AppError::EventLoop(e.to_string()))?;
    Ok(ask.0)
}

/// What a key or a touch changes: the scene, or the unit the wall focuses on (`None`: the whole
/// country again).
#[derive(Debug, Clone, PartialEq)]
enum Steer {
    Scene(usize),
    Focus(Option<String>),
}

/// How long a still pointer stays on a full-screen wall.
const POINTER_IDLE: Duration = Duration::from_secs(3);

/// How long a scene key waits for the room's answer before switching this wall by itself (the
/// server answers in milliseconds).
const ROOM_ANSWER: Duration = Duration::from_secs(2);

/// A presenter's room changes waiting for the moment the server stamped on them, so every wall
/// of the room switches in the same frame whatever its network delay.
#[derive(Debug, Default)]
pub struct Controls {
    pending: Vec<(i64, RoomState)>,
}

impl Controls {
    pub fn push(&mut self, apply_at_ms: i64, state: RoomState) {
        self.pending.push((apply_at_ms, state));
        self.pending.sort_by_key(|p| p.0);
    }

    /// The changes due at `now_ms`, oldest first.
    pub fn due(&mut self, now_ms: i64) -> Vec<RoomState> {
        let n = self.pending.iter().take_while(|p| p.0 <= now_ms).count();
        self.pending.drain(..n).map(|p| p.1).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Applies the changes due at `now_ms` to `room`, oldest first. Each holds the room's whole
    /// state, so it replaces `room`: a field the presenter cleared is absent and must go.
    pub fn apply_due(&mut self, now_ms: i64, room: &mut RoomState) -> Applied {
        let mut out = Applied::default();
        for state in self.due(now_ms) {
            let before = (room.focus_unit.clone(), room.period);
            *room = state;
            out.changed = true;
            if room.scene.is_some() {
                out.scene.clone_from(&room.scene);
            }
            out.views_moved |= before != (room.focus_unit.clone(), room.period);
        }
        out
    }
}

/// What [`Controls::apply_due`] changed.
#[derive(Debug, Default, PartialEq)]
pub struct Applied {
    /// A room state was applied: what the walls draw may have changed.
    pub changed: bool,
    /// The scene the last applied change names.
    pub scene: Option<String>,
    /// The focus or the period moved: the panels' views ask for other figures.
    pub views_moved: bool,
}

/// Options of `run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub layout: PathBuf,
    pub server: String,
    pub token: Option<String>,
    pub windowed: bool,
    pub scene: Option<String>,
    pub assets: PathBuf,
    /// Exit after presenting this many frames on every window (tests, smoke checks).
    pub exit_after_frames: Option<u64>,
    /// At that exit, write each window's last frame as `<output>.png` (`feed.png`) here.
    pub capture: Option<PathBuf>,
}

#[derive(Debug)]
enum UserEvent {
    Wake,
    LayoutChanged,
}

/// What a window shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shows {
    /// The block of screens of the layout's output with this index.
    Output(usize),
    /// The whole wall or the `[feed]`'s block of screens, scaled into the conference feed.
    Feed,
}

struct Screen {
    window: Arc<Window>,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    renderer: Renderer,
    screens: Vec<ScreenMap>,
    shows: Shows,
    frames: u64,
    /// Where the pointer is over the window, in its pixels.
    pointer: Option<[f32; 2]>,
    /// The frame kept between frames, so only changed panels are redrawn, then copied to the
    /// swapchain image (whose contents rotate); `None` when the surface cannot be copied into.
    kept: Option<wgpu::Texture>,
}

fn kept_texture(gpu: &Gpu, config: &wgpu::SurfaceConfiguration) -> wgpu::Texture {
    gpu.device.create_texture(&wgpu::TextureDescriptor {
        label: Some("kept frame"),
        size: wgpu::Extent3d {
            width: config.width,
            height: config.height,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: config.format,
        // Text and a whole frame's fill are copied into it (see `Renderer::copy_text` and
        // `Renderer::fill_by_copy`).
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT
            | wgpu::TextureUsages::COPY_SRC
            | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    })
}

struct App {
    opts: RunOptions,
    catalogue: Catalogue,
    layout: Layout,
    layout_error: Option<String>,
    scene: usize,
    data: WallData,
    room: RoomState,
    controls: Controls,
    /// A key's or a touch's change asked of the room and not yet answered, and when.
    asked: Option<(Steer, Instant)>,
    /// Whether keys and touches steer the room (until the server refuses this wall's token).
    steers_room: bool,
    /// When the pointer last moved, while it shows (full screen hides it when still).
    pointer_shown: Option<Instant>,
    subscribed: scene::Subscribed,
    events: std::sync::mpsc::Receiver<Event>,
    commands: tokio::sync::mpsc::UnboundedSender<Command>,
    gpu: Option<Gpu>,
    windows: HashMap<WindowId, Screen>,
    shaper: TextShaper,
    list: DisplayList,
    /// When `list` was composed; `None` once something it shows has changed.
    composed_at: Option<Instant>,
    frame_times: Vec<Duration>,
    last_report: Instant,
    error: Option<AppError>,
}

/// Runs the wall until its windows close.
pub fn run(opts: RunOptions) -> Result<(), AppError> {
    let catalogue = Catalogue::load(&opts.assets).map_err(|e| AppError::Layout(e.to_string()))?;
    let layout =
        layout::load(&opts.layout, &catalogue).map_err(|e| AppError::Layout(e.to_string()))?;
    let scene = match &opts.scene {
        Some(n) => layout
            .scenes
            .iter()
            .position(|s| &s.name == n)
            .ok_or_else(|| AppError::Layout(format!("the layout has no scene {n:?}")))?,
        None => 0,
    };
    let url = live::live_url(&opts.server, opts.token.as_deref())?;
    let event_loop = EventLoop::<UserEvent>::with_user_event()
        .build()
        .map_err(|e| AppError::EventLoop(e.to_string()))?;
    let proxy = event_loop.create_proxy();

    let (events_tx, events) = std::sync::mpsc::channel();
    let (commands, commands_rx) = tokio::sync::mpsc::unbounded_channel();
    let subscribed = scene::Subscribed::new(&layout, &RoomState::default(), live::now_ms());
    let views = subscribed.views().to_vec();
    if !subscribed.reports().is_empty() {
        let _ = commands.send(Command::SetReports(subscribed.reports().to_vec()));
    }
    let room = layout.room.clone().map(|room| live::Joining {
        room,
        scenes: layout.scenes.iter().map(layout::Scene::info).collect(),
    });
    let wake_proxy = proxy.clone();
    std::thread::Builder::new()
        .name("live".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the live feed's runtime");
                    return;
                }
            };
            let span = tracing::info_span!("live", url = %url);
            rt.block_on(
                live::run_feed(url, room, views, commands_rx, events_tx, move || {
                    let _ = wake_proxy.send_event(UserEvent::Wake);
                })
                .instrument(span),
            );
        })
        .map_err(|e| AppError::EventLoop(e.to_string()))?;

    // Watch the layout's folder: editors replace files rather than write them in place.
    let watch_proxy = proxy.clone();
    let watched = opts.layout.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res
            && ev
                .paths
                .iter()
                .any(|p| crate::same_file(p, &watched) || p.file_name() == watched.file_name())
            && !matches!(ev.kind, notify::EventKind::Access(_))
        {
            let _ = watch_proxy.send_event(UserEvent::LayoutChanged);
        }
    })
    .map_err(|e| AppError::EventLoop(format!("cannot watch the layout file: {e}")))?;
    let folder = opts
        .layout
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    if let Err(e) = watcher.watch(&folder, notify::RecursiveMode::NonRecursive) {
        tracing::warn!(error = %e, "layout reload disabled: cannot watch its folder");
    }

    let mut app = App::new(opts, catalogue, layout, scene, subscribed, events, commands);
    event_loop
        .run_app(&mut app)
        .map_err(|e| AppError::EventLoop(e.to_string()))?;
    drop(watcher);
    match app.error.take() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

impl App {
    /// The wall before its windows open, fed by `events` and asking through `commands`.
    fn new(
        opts: RunOptions,
        catalogue: Catalogue,
        layout: Layout,
        scene: usize,
        subscribed: scene::Subscribed,
        events: std::sync::mpsc::Receiver<Event>,
        commands: tokio::sync::mpsc::UnboundedSender<Command>,
    ) -> App {
        App {
            opts,
            catalogue,
            layout,
            layout_error: None,
            scene,
            data: {
                let mut d = WallData::default();
                d.follow_reports(subscribed.reports());
                d
            },
            room: RoomState::default(),
            asked: None,
            steers_room: true,
            pointer_shown: None,
            controls: Controls::default(),
            subscribed,
            events,
            commands,
            gpu: None,
            windows: HashMap::new(),
            shaper: TextShaper::new(),
            list: DisplayList::default(),
            composed_at: None,
            frame_times: Vec::new(),
            last_report: Instant::now(),
            error: None,
        }
    }

    fn open_windows(&mut self, event_loop: &ActiveEventLoop) -> Result<(), AppError> {
        // Surfaces for the device's instance: a reload that reopens the windows keeps the device.
        let instance = match &self.gpu {
            Some(gpu) => gpu.instance.clone(),
            None => wgpu::Instance::new(wgpu::InstanceDescriptor::new_with_display_handle(
                Box::new(event_loop.owned_display_handle()),
            )),
        };
        let handles: Vec<MonitorHandle> = event_loop.available_monitors().collect();
        let monitors: Vec<Monitor> = handles.iter().map(monitor_of).collect();
        let wanted = monitors::wanted(&self.layout);
        let placed = monitors::assign(&wanted, &monitors);
        if !self.opts.windowed {
            let list: Vec<String> = monitors.iter().map(Monitor::to_string).collect();
            tracing::info!(monitors = %list.join("; "), "monitors");
            for note in &placed.notes {
                tracing::warn!("{note}");
            }
        }
        let mut created = Vec::new();
        // `wanted` lists the outputs, then the feed.
        for (i, (want, on)) in wanted.iter().zip(&placed.monitors).enumerate() {
            let (shows, name) = match self.layout.outputs.get(i) {
                Some(o) => (Shows::Output(i), o.name.as_str()),
                None => (Shows::Feed, "hội nghị truyền hình"),
            };
            let size = want.size;
            let mut attrs = Window::default_attributes()
                .with_title(format!("dieuhanh — {} — {name}", self.layout.wall.name));
            if self.opts.windowed {
                // A desktop preview: the output's aspect, at most 1600 px wide.
                let k = (1600.0 / size[0] as f32)
                    .min(900.0 / size[1] as f32)
                    .min(1.0);
                attrs = attrs.with_inner_size(PhysicalSize::new(
                    (size[0] as f32 * k).round() as u32,
                    (size[1] as f32 * k).round() as u32,
                ));
            } else {
                // The monitor's place and size as well as the full-screen request: a wall PC's
                // bare X session has no window manager to carry the request out, and the
                // window would stay at its default size in a corner.
                let (handle, [w, h]) = match on {
                    Some(m) => (Some(handles[*m].clone()), monitors[*m].size),
                    None => (None, size),
                };
                if let Some(m) = on {
                    let [x, y] = monitors[*m].position;
                    attrs = attrs.with_position(PhysicalPosition::new(x, y));
                }
                attrs = attrs
                    .with_inner_size(PhysicalSize::new(w, h))
                    .with_decorations(false)
                    .with_fullscreen(Some(Fullscreen::Borderless(handle)));
            }
            let window = Arc::new(
                event_loop
                    .create_window(attrs)
                    .map_err(|e| AppError::EventLoop(e.to_string()))?,
            );
            if !self.opts.windowed {
                // A pointer left in the middle of the wall is seen by the whole room.
                window.set_cursor_visible(false);
            }
            let surface = instance
                .create_surface(window.clone())
                .map_err(|e| AppError::EventLoop(e.to_string()))?;
            created.push((shows, window, surface));
        }
        if self.gpu.is_none() {
            self.gpu = Some(Gpu::new(instance, created.first().map(|(_, _, s)| s))?);
        }
        let Some(gpu) = &self.gpu else {
            return Ok(());
        };
        for (shows, window, surface) in created {
            let caps = surface.get_capabilities(&gpu.adapter);
            // A plain format: see render's module doc (an sRGB one still works). BGRA first:
            // lavapipe draws a frame into it markedly faster than into RGBA.
            let format = [
                wgpu::TextureFormat::Bgra8Unorm,
                wgpu::TextureFormat::Rgba8Unorm,
            ]
            .into_iter()
            .find(|f| caps.formats.contains(f))
            .or_else(|| caps.formats.first().copied())
            .unwrap_or(wgpu::TextureFormat::Bgra8UnormSrgb);
            let size = window.inner_size();
            let config = wgpu::SurfaceConfiguration {
                usage: if caps.usages.contains(wgpu::TextureUsages::COPY_DST) {
                    wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_DST
                } else {
                    wgpu::TextureUsages::RENDER_ATTACHMENT
                },
                format,
                width: size.width.max(1),
                height: size.height.max(1),
                present_mode: wgpu::PresentMode::Fifo,
                alpha_mode: caps
                    .alpha_modes
                    .first()
                    .copied()
                    .unwrap_or(wgpu::CompositeAlphaMode::Auto),
                view_formats: vec![],
                desired_maximum_frame_latency: 2,
                color_space: Default::default(),
            };
            surface.configure(&gpu.device, &config);
            let mut renderer = Renderer::new(gpu, format);
            let kept = config
                .usage
                .contains(wgpu::TextureUsages::COPY_DST)
                .then(|| kept_texture(gpu, &config));
            renderer.retained = kept.is_some();
            // A swapchain image drawn into directly may not take copies.
            renderer.copy_text &= kept.is_some();
            let id = window.id();
            let mut screen = Screen {
                window,
                surface,
                config,
                renderer,
                screens: Vec::new(),
                shows,
                frames: 0,
                pointer: None,
                kept,
            };
            self.place(&mut screen);
            self.windows.insert(id, screen);
        }
        tracing::info!(windows = self.windows.len(), adapter = %gpu.describe(), "wall running");
        Ok(())
    }

    /// Maps the output's screens into the window's current size (scaled when windowed); the
    /// feed's window gets the whole wall or its `[feed]` block, letterboxed into whatever size
    /// it has.
    fn place(&self, screen: &mut Screen) {
        let output = match screen.shows {
            Shows::Feed if self.layout.feed.is_some() => {
                let size = [screen.config.width, screen.config.height];
                screen.screens = scene::feed_screens(&self.layout, size);
                return;
            }
            Shows::Feed => None,
            Shows::Output(i) => self.layout.outputs.get(i),
        };
        let Some(output) = output else {
            screen.screens.clear();
            return;
        };
        let (maps, native) = scene::output_screens(&self.layout, output);
        let k = (screen.config.width as f32 / native[0] as f32)
            .min(screen.config.height as f32 / native[1] as f32);
        screen.screens = maps
            .into_iter()
            .map(|m| ScreenMap {
                canvas: m.canvas,
                target: Rect::new(
                    m.target.x * k,
                    m.target.y * k,
                    m.target.w * k,
                    m.target.h * k,
                ),
            })
            .collect();
    }

    /// Applies what the feed brought and the room controls now due. Each window drains before
    /// it draws, so a change can land between two windows of one turn: every window is then
    /// asked to draw again, and none keeps showing the state before it.
    fn drain_events(&mut self) {
        let mut changed = false;
        while let Ok(ev) = self.events.try_recv() {
            changed = true;
            let now = live::now_ms();
            match ev {
                Event::Connected => self.data.feed = Feed::Live { since_ms: now },
                Event::Disconnected(reason) => {
                    if let Feed::Live { .. } = self.data.feed {
                        self.data.feed = Feed::Down {
                            since_ms: now,
                            reason,
                        };
                    } else if let Feed::Connecting = self.data.feed {
                        self.data.feed = Feed::Down {
                            since_ms: 0,
                            reason,
                        };
                    }
                }
                Event::NotSteered => self.switch_asked_here("no connection to the server"),
                Event::Message(m) => match *m {
                    ServerMessage::Control {
                        apply_at_ms, state, ..
                    } => {
                        // The room's answer to a scene key (or a presenter's newer word).
                        self.asked = None;
                        self.controls.push(apply_at_ms, state);
                    }
                    // A view's error names its view; the room's refusal names none.
                    ServerMessage::Error {
                        code,
                        message,
                        id: None,
                    } if self.asked.is_some() && (code == "forbidden" || code == "bad_control") => {
                        if code == "forbidden" {
                            self.steers_room = false;
                            tracing::warn!(
                                room = ?self.layout.room,
                                "scene keys and touches change this wall only: {message}; give \
                                 it a presenter's token (--token, DIEUHANH_TOKEN) for them to \
                                 change every wall of the room"
                            );
                        }
                        self.switch_asked_here(&message);
                    }
                    other => self.data.apply(&other, now),
                },
            }
        }
        if self
            .asked
            .as_ref()
            .is_some_and(|(_, at)| at.elapsed() > ROOM_ANSWER)
        {
            self.switch_asked_here("the room did not answer");
        }
        let applied = self.controls.apply_due(live::now_ms(), &mut self.room);
        if changed || applied.changed {
            self.composed_at = None;
            self.request_redraw();
        }
        if let Some(name) = &applied.scene
            && let Some(idx) = self.layout.scenes.iter().position(|s| &s.name == name)
        {
            self.scene = idx;
        }
        let room_changed = applied.views_moved;
        let now = live::now_ms();
        if let Some(views) = self
            .subscribed
            .refresh(&self.layout, &self.room, now, room_changed)
        {
            tracing::info!(views = views.len(), "views moved (room or calendar)");
            let _ = self.commands.send(Command::SetViews(views));
        }
        if let Some(reports) = self.subscribed.take_reports() {
            tracing::info!(reports = reports.len(), "reports followed moved");
            self.follow_reports(reports);
        }
    }

    /// Follows `reports` from now on: the wall's data keeps only their standings, the feed
    /// asks the server for them.
    fn follow_reports(&mut self, reports: Vec<ReportKey>) {
        self.data.follow_reports(&reports);
        let _ = self.commands.send(Command::SetReports(reports));
    }

    fn reload(&mut self, event_loop: &ActiveEventLoop) {
        // A new layout, or the banner saying why the edit was refused.
        self.composed_at = None;
        match layout::load(&self.opts.layout, &self.catalogue) {
            Ok(new) => {
                let scene_name = self.layout.scenes.get(self.scene).map(|s| s.name.clone());
                let reopen = monitors::wanted(&new) != monitors::wanted(&self.layout);
                self.scene = scene_name
                    .and_then(|n| new.scenes.iter().position(|s| s.name == n))
                    .unwrap_or(0);
                if let Some(views) = self
                    .subscribed
                    .refresh(&new, &self.room, live::now_ms(), true)
                {
                    let _ = self.commands.send(Command::SetViews(views));
                }
                if let Some(reports) = self.subscribed.take_reports() {
                    self.follow_reports(reports);
                }
                let scenes: Vec<_> = new.scenes.iter().map(layout::Scene::info).collect();
                if scenes
                    != self
                        .layout
                        .scenes
                        .iter()
                        .map(layout::Scene::info)
                        .collect::<Vec<_>>()
                {
                    let _ = self.commands.send(Command::SetScenes(scenes));
                }
                self.layout = new;
                self.layout_error = None;
                if reopen {
                    // An output, its monitor or size, or the feed came, went or moved: the
                    // windows are opened afresh where the new layout puts them.
                    self.windows.clear();
                    match self.open_windows(event_loop) {
                        Ok(()) => tracing::info!(
                            "the outputs or the conference feed changed: {} windows reopened",
                            self.windows.len()
                        ),
                        Err(e) => tracing::error!(error = %e, "cannot reopen the windows"),
                    }
                } else {
                    let mut screens: Vec<_> = self.windows.drain().collect();
                    for (_, s) in &mut screens {
                        self.place(s);
                    }
                    self.windows.extend(screens);
                }
                tracing::info!(layout = %self.opts.layout.display(), "layout reloaded");
            }
            Err(e) => {
                tracing::error!(errors = %e, "the edited layout is invalid; keeping the last good one");
                self.layout_error = Some(e.to_string());
            }
        }
        self.request_redraw();
    }

    fn request_redraw(&self) {
        for s in self.windows.values() {
            s.window.request_redraw();
        }
    }

    /// Composes the frame once for all windows (at most once per event-loop turn).
    fn compose(&mut self) {
        let now = live::now_ms();
        let Some(scene) = self.layout.scenes.get(self.scene) else {
            return;
        };
        scene::compose(
            &self.layout,
            scene,
            &self.data,
            &self.room,
            now,
            &mut self.shaper,
            &mut self.list,
        );
        if let Some(err) = &self.layout_error {
            // The banner spans the whole top screen row so a technician sees it on any screen.
            let w = &self.layout.wall;
            let size = w.text_px(crate::layout::TextSize::Small);
            let canvas = w.canvas_size();
            let first = err.lines().take(3).collect::<Vec<_>>().join("  ·  ");
            let banner = Rect::new(0.0, 0.0, canvas[0], size * 2.0);
            self.list.begin_panel(banner);
            self.list.rect(banner, theme::BAD);
            self.list.text(
                &mut self.shaper,
                &format!("Tệp bố cục lỗi, đang giữ bố cục cũ: {first}"),
                size * 0.5,
                size * 0.35,
                TextStyle::new(size, Weight::SemiBold, theme::TEXT),
                Some(canvas[0] - size),
            );
            self.list.end_panel();
        }
        self.composed_at = Some(Instant::now());
    }

    /// Composes unless the windows drawn in this event-loop turn can share the last frame's
    /// list: one composed under 4 ms ago, with nothing changed since. Data, room controls, a
    /// scene switch and a reload clear `composed_at`, so a change is never drawn a frame late
    /// (or, on a still wall, a second late: the next redraw is the clock's).
    fn compose_if_stale(&mut self) {
        if self
            .composed_at
            .is_none_or(|t| t.elapsed() > Duration::from_millis(4))
        {
            self.compose();
        }
    }

    fn draw(&mut self, id: WindowId, event_loop: &ActiveEventLoop) {
        if self.gpu.is_none() {
            return;
        }
        self.compose_if_stale();
        let Some(gpu2) = &self.gpu else { return };
        let Some(s) = self.windows.get_mut(&id) else {
            return;
        };
        let started = Instant::now();
        let frame = match s.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(f)
            | wgpu::CurrentSurfaceTexture::Suboptimal(f) => f,
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                s.surface.configure(&gpu2.device, &s.config);
                s.window.request_redraw();
                return;
            }
            other => {
                tracing::debug!(?other, "no frame this time");
                s.window.request_redraw();
                return;
            }
        };
        if let Err(e) = s.renderer.prepare(
            gpu2,
            &mut self.shaper,
            &self.list,
            theme::BACKGROUND,
            &s.screens,
            [s.config.width, s.config.height],
        ) {
            tracing::error!(error = %e, "preparing the frame failed");
        }
        let mut encoder = gpu2
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("window frame"),
            });
        match &s.kept {
            Some(kept) => s.renderer.render_kept(&mut encoder, kept, &frame.texture),
            None => s.renderer.render(&mut encoder, &frame.texture),
        }
        gpu2.queue.submit(Some(encoder.finish()));
        s.window.pre_present_notify();
        gpu2.queue.present(frame);
        s.renderer.trim();
        s.frames += 1;
        self.frame_times.push(started.elapsed());
        if self.last_report.elapsed() > Duration::from_secs(10) {
            let n = self.frame_times.len().max(1);
            let mean = self.frame_times.iter().sum::<Duration>() / n as u32;
            tracing::info!(
                frames = n,
                mean_ms = mean.as_secs_f64() * 1e3,
                "frame times"
            );
            self.frame_times.clear();
            self.last_report = Instant::now();
        }
        if let Some(limit) = self.opts.exit_after_frames
            && self.windows.values().all(|w| w.frames >= limit)
        {
            if let Some(dir) = &self.opts.capture {
                self.capture(dir);
            }
            let total: u64 = self.windows.values().map(|w| w.frames).sum();
            println!(
                "presented {total} frames on {} windows ({})",
                self.windows.len(),
                self.gpu.as_ref().map(Gpu::describe).unwrap_or_default()
            );
            event_loop.exit();
        }
    }

    /// Writes each window's kept frame (what it last presented) as a PNG into `dir`.
    fn capture(&self, dir: &std::path::Path) {
        let Some(gpu) = &self.gpu else {
            return;
        };
        if let Err(e) = std::fs::create_dir_all(dir) {
            tracing::error!(dir = %dir.display(), error = %e, "cannot create the capture folder");
            return;
        }
        for s in self.windows.values() {
            let name = match s.shows {
                Shows::Feed => "feed".to_owned(),
                Shows::Output(i) => self
                    .layout
                    .outputs
                    .get(i)
                    .map_or_else(|| format!("output-{i}"), |o| o.name.clone()),
            };
            let path = dir.join(format!("{name}.png"));
            let Some(kept) = &s.kept else {
                tracing::warn!(window = %name, "this surface keeps no frame to capture");
                continue;
            };
            let written = crate::render::read_texture(gpu, kept)
                .map_err(|e| e.to_string())
                .and_then(|image| image.write_png(&path).map_err(|e| e.to_string()));
            match written {
                Ok(()) => tracing::info!(path = %path.display(), "frame captured"),
                Err(e) => tracing::error!(path = %path.display(), error = %e, "capture failed"),
            }
        }
    }

    /// A scene key: switches to scene `index` (see [`App::steer`]).
    fn scene_key(&mut self, index: usize) {
        if index < self.layout.scenes.len() && index != self.scene_shown_or_asked() {
            self.steer(Steer::Scene(index));
        }
    }

    /// A touch or click at target pixel `p` of window `id`: on a ranked bar, focuses its unit
    /// (the wall's KPI tiles, charts and tables then show it), or, on the unit already focused,
    /// goes back to the whole country.
    fn touch(&mut self, id: WindowId, p: [f32; 2]) {
        let Some(canvas) = self
            .windows
            .get(&id)
            .and_then(|s| scene::canvas_point(&s.screens, p))
        else {
            tracing::debug!(?p, "touched outside the screens");
            return;
        };
        self.drill(canvas);
    }

    /// [`App::touch`] at canvas point `p`.
    fn drill(&mut self, p: [f32; 2]) {
        let Some(unit) = self.list.unit_at(p).map(str::to_owned) else {
            tracing::debug!(?p, hits = ?self.list.hits, "touched nothing that drills down");
            return;
        };
        let focus = (self.focus_shown_or_asked() != Some(unit.as_str())).then_some(unit);
        tracing::info!(unit = ?focus, "drill-down touched");
        self.steer(Steer::Focus(focus));
    }

    /// On a wall that follows a room, asks the room for `what` (every wall of it then changes
    /// at the moment the server stamps); otherwise this wall changes by itself.
    fn steer(&mut self, what: Steer) {
        let live = matches!(self.data.feed, Feed::Live { .. });
        if self.layout.room.is_some() && self.steers_room && live {
            let (state, clear) = match &what {
                Steer::Scene(i) => (
                    RoomState {
                        scene: Some(self.layout.scenes[*i].name.clone()),
                        ..RoomState::default()
                    },
                    Vec::new(),
                ),
                Steer::Focus(Some(unit)) => (
                    RoomState {
                        focus_unit: Some(unit.clone()),
                        ..RoomState::default()
                    },
                    Vec::new(),
                ),
                Steer::Focus(None) => (RoomState::default(), vec![RoomField::FocusUnit]),
            };
            if self
                .commands
                .send(Command::SteerRoom { state, clear })
                .is_ok()
            {
                tracing::info!(?what, "asked of the room");
                self.asked = Some((what, Instant::now()));
                return;
            }
        }
        self.apply_here(what);
    }

    /// The scene a key steps from: the one asked of the room while it has not answered, so
    /// two quick presses step twice.
    fn scene_shown_or_asked(&self) -> usize {
        match &self.asked {
            Some((Steer::Scene(i), _)) => *i,
            _ => self.scene,
        }
    }

    /// The unit focused, or asked of the room: a second touch on it goes back.
    fn focus_shown_or_asked(&self) -> Option<&str> {
        match &self.asked {
            Some((Steer::Focus(u), _)) => u.as_deref(),
            _ => self.room.focus_unit.as_deref(),
        }
    }

    /// The room could not take what a key or touch asked: this wall changes by itself, so the
    /// presenter's key is never lost.
    fn switch_asked_here(&mut self, why: &str) {
        if let Some((what, _)) = self.asked.take() {
            tracing::warn!(reason = %why, "the key or touch changed this wall only");
            self.apply_here(what);
        }
    }

    fn apply_here(&mut self, what: Steer) {
        match what {
            Steer::Scene(i) => self.switch_scene(i),
            Steer::Focus(unit) => {
                tracing::info!(focus = ?unit, "focus moved on this wall");
                self.room.focus_unit = unit;
                self.composed_at = None;
                if let Some(views) =
                    self.subscribed
                        .refresh(&self.layout, &self.room, live::now_ms(), true)
                {
                    let _ = self.commands.send(Command::SetViews(views));
                }
                if let Some(reports) = self.subscribed.take_reports() {
                    self.follow_reports(reports);
                }
                self.request_redraw();
            }
        }
    }

    fn switch_scene(&mut self, index: usize) {
        if index < self.layout.scenes.len() && index != self.scene {
            self.scene = index;
            self.composed_at = None;
            tracing::info!(scene = %self.layout.scenes[index].name, "scene switched");
            self.request_redraw();
        }
    }

    fn animating(&self) -> bool {
        let now = live::now_ms();
        self.data
            .changes
            .front()
            .is_some_and(|c| now - c.at_ms < crate::widgets::HIGHLIGHT_MS)
            || !self.controls.is_empty()
            || self.opts.exit_after_frames.is_some()
    }
}

impl ApplicationHandler<UserEvent> for App {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if !self.windows.is_empty() {
            return;
        }
        if let Err(e) = self.open_windows(event_loop) {
            tracing::error!(error = %e, "cannot start the wall");
            self.error = Some(e);
            event_loop.exit();
        }
    }

    fn user_event(&mut self, event_loop: &ActiveEventLoop, event: UserEvent) {
        match event {
            // Draining asks every window to draw when it finds a change.
            UserEvent::Wake => self.drain_events(),
            UserEvent::LayoutChanged => self.reload(event_loop),
        }
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, id: WindowId, event: WindowEvent) {
        match event {
            WindowEvent::CloseRequested => event_loop.exit(),
            WindowEvent::Resized(size) => {
                if let (Some(gpu), Some(s)) = (&self.gpu, self.windows.get_mut(&id)) {
                    s.config.width = size.width.max(1);
                    s.config.height = size.height.max(1);
                    s.surface.configure(&gpu.device, &s.config);
                    if s.kept.is_some() {
                        s.kept = Some(kept_texture(gpu, &s.config));
                    }
                    s.renderer.invalidate();
                }
                if let Some(mut s) = self.windows.remove(&id) {
                    self.place(&mut s);
                    s.window.request_redraw();
                    self.windows.insert(id, s);
                }
            }
            WindowEvent::RedrawRequested => {
                self.drain_events();
                self.draw(id, event_loop);
            }
            WindowEvent::KeyboardInput {
                event:
                    KeyEvent {
                        logical_key,
                        state: ElementState::Pressed,
                        ..
                    },
                ..
            } => match logical_key {
                Key::Named(NamedKey::PageDown | NamedKey::ArrowRight) => {
                    let n = self.layout.scenes.len().max(1);
                    self.scene_key((self.scene_shown_or_asked() + 1) % n);
                }
                Key::Named(NamedKey::PageUp | NamedKey::ArrowLeft) => {
                    let n = self.layout.scenes.len().max(1);
                    self.scene_key((self.scene_shown_or_asked() + n - 1) % n);
                }
                Key::Character(c) => {
                    if let Some(d) = c.chars().next().and_then(|ch| ch.to_digit(10))
                        && d >= 1
                    {
                        self.scene_key(d as usize - 1);
                    }
                }
                // Back to the whole country.
                Key::Named(NamedKey::Escape) if self.focus_shown_or_asked().is_some() => {
                    self.steer(Steer::Focus(None));
                }
                _ => {}
            },
            WindowEvent::CursorMoved { position, .. } => {
                if let Some(s) = self.windows.get_mut(&id) {
                    s.pointer = Some([position.x as f32, position.y as f32]);
                }
                if !self.opts.windowed {
                    if self.pointer_shown.is_none() {
                        for s in self.windows.values() {
                            s.window.set_cursor_visible(true);
                        }
                    }
                    self.pointer_shown = Some(Instant::now());
                }
            }
            WindowEvent::CursorLeft { .. } => {
                if let Some(s) = self.windows.get_mut(&id) {
                    s.pointer = None;
                }
            }
            WindowEvent::MouseInput {
                state: ElementState::Pressed,
                button: MouseButton::Left,
                ..
            } => {
                if let Some(p) = self.windows.get(&id).and_then(|s| s.pointer) {
                    self.touch(id, p);
                }
            }
            WindowEvent::Touch(t) if t.phase == TouchPhase::Started => {
                self.touch(id, [t.location.x as f32, t.location.y as f32]);
            }
            _ => {}
        }
    }

    fn about_to_wait(&mut self, event_loop: &ActiveEventLoop) {
        // A still pointer leaves the wall: the room sees it only while someone uses it.
        if self
            .pointer_shown
            .is_some_and(|t| t.elapsed() > POINTER_IDLE)
        {
            self.pointer_shown = None;
            for s in self.windows.values() {
                s.window.set_cursor_visible(false);
            }
        }
        // Redraw continuously while something moves; otherwise on events and each second for
        // the clock (and for stale badges to appear on time).
        if self.animating() {
            self.request_redraw();
            event_loop.set_control_flow(ControlFlow::Poll);
        } else {
            let next = Instant::now() + Duration::from_millis(1000);
            event_loop.set_control_flow(ControlFlow::WaitUntil(next));
        }
    }

    fn new_events(&mut self, _event_loop: &ActiveEventLoop, cause: StartCause) {
        if let StartCause::ResumeTimeReached { .. } = cause {
            self.request_redraw();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dieuhanh_protocol::live::Cell;

    /// The wall of `desk.toml` on the demo snapshot, as `run` makes it before any window opens,
    /// and the sender standing in for its live feed.
    fn desk_wall() -> (App, std::sync::mpsc::Sender<Event>) {
        let (app, feed, _) = desk_wall_steering();
        (app, feed)
    }

    /// [`desk_wall`], with the commands it sends its feed.
    fn desk_wall_steering() -> (
        App,
        std::sync::mpsc::Sender<Event>,
        tokio::sync::mpsc::UnboundedReceiver<Command>,
    ) {
        let assets = crate::catalogue::assets_dir();
        let catalogue = Catalogue::load(&assets).expect("catalogue");
        let path = assets.join("layouts/desk.toml");
        let layout = layout::load(&path, &catalogue).expect("layout");
        let subscribed = scene::Subscribed::new(&layout, &RoomState::default(), live::now_ms());
        let (events_tx, events) = std::sync::mpsc::channel();
        let (commands, commands_rx) = tokio::sync::mpsc::unbounded_channel();
        let opts = RunOptions {
            layout: path,
            server: "http://127.0.0.1:1".into(),
            token: None,
            windowed: true,
            scene: None,
            assets: assets.clone(),
            exit_after_frames: None,
            capture: None,
        };
        let mut app = App::new(opts, catalogue, layout, 0, subscribed, events, commands);
        app.data = crate::snapshot::load(&crate::snapshot::demo_path(&assets)).expect("demo");
        (app, events_tx, commands_rx)
    }

    /// Touching a province's bar focuses the wall on it (its KPI tiles and charts then ask for
    /// that province's figures); touching it again, or Escape, goes back to the whole country.
    /// On a wall of a room the room is asked, so every wall of it drills down together.
    #[test]
    fn touching_a_provinces_bar_drills_down_to_it_and_back() {
        // A point on Hồ Chí Minh's bar as the wall last composed it.
        let hcm = |app: &mut App| {
            app.compose_if_stale();
            let row = app
                .list
                .hits
                .iter()
                .find(|h| h.unit == "79")
                .map(|h| h.rect)
                .expect("Hồ Chí Minh's bar on the desk's first scene");
            [row.x + row.w * 0.6, row.y + row.h / 2.0]
        };
        let (mut app, feed, mut commands) = desk_wall_steering();
        let on_bar = hcm(&mut app);
        assert_eq!(app.list.unit_at([on_bar[0], -5.0]), None);

        // A wall in no room drills down by itself.
        app.drill(on_bar);
        assert_eq!(app.room.focus_unit.as_deref(), Some("79"));
        match commands.try_recv() {
            Ok(Command::SetViews(views)) => assert!(
                views.iter().any(|(_, v)| v.units.iter().any(|u| u == "79")),
                "the views ask for Hồ Chí Minh: {views:?}"
            ),
            other => panic!("the views did not move: {other:?}"),
        }
        let on_bar = hcm(&mut app);
        app.drill(on_bar);
        assert_eq!(app.room.focus_unit, None, "a second touch goes back");

        // A wall of a room asks the room; the room's answer focuses it.
        app.layout.room = Some("phong-hop".into());
        app.data.feed = Feed::Live {
            since_ms: live::now_ms(),
        };
        while commands.try_recv().is_ok() {}
        let on_bar = hcm(&mut app);
        app.drill(on_bar);
        match commands.try_recv() {
            Ok(Command::SteerRoom { state, clear }) => {
                assert_eq!(state.focus_unit.as_deref(), Some("79"));
                assert!(clear.is_empty());
            }
            other => panic!("the room was not asked: {other:?}"),
        }
        assert_eq!(app.room.focus_unit, None, "the wall waits for the room");
        let control = ServerMessage::Control {
            room: "phong-hop".into(),
            version: 1,
            apply_at_ms: live::now_ms(),
            state: RoomState {
                focus_unit: Some("79".into()),
                ..RoomState::default()
            },
        };
        feed.send(Event::Message(Box::new(control))).expect("feed");
        app.drain_events();
        assert_eq!(app.room.focus_unit.as_deref(), Some("79"));
        while commands.try_recv().is_ok() {}
        // Escape's way back: the room is asked to clear its focus.
        app.steer(Steer::Focus(None));
        match commands.try_recv() {
            Ok(Command::SteerRoom { clear, .. }) => assert_eq!(clear, vec![RoomField::FocusUnit]),
            other => panic!("the room was not asked to clear: {other:?}"),
        }
    }

    /// A presenter's clicker on a wall of a room asks the room, so every wall of it switches at
    /// the server's stamped moment; this wall waits for that too. Refused (a wall's token) or
    /// unsent (no connection), the key switches this wall by itself: it is never lost.
    #[test]
    fn a_scene_key_on_a_wall_of_a_room_steers_the_room() {
        let (mut app, feed, mut commands) = desk_wall_steering();
        app.layout.room = Some("phong-hop".into());
        app.data.feed = Feed::Live {
            since_ms: live::now_ms(),
        };
        let second = app.layout.scenes[1].name.clone();
        app.scene_key(1);
        match commands.try_recv() {
            Ok(Command::SteerRoom { state, .. }) => {
                assert_eq!(state.scene.as_ref(), Some(&second));
            }
            other => panic!("the room was not asked: {other:?}"),
        }
        assert_eq!(app.scene, 0, "the wall waits for the room's moment");
        // A second press before the answer steps on from the scene asked (two scenes: back).
        assert_eq!(app.scene_shown_or_asked(), 1);

        // The room's answer, stamped for now: the wall switches with every other.
        let control = ServerMessage::Control {
            room: "phong-hop".into(),
            version: 1,
            apply_at_ms: live::now_ms(),
            state: RoomState {
                scene: Some(second.clone()),
                ..RoomState::default()
            },
        };
        feed.send(Event::Message(Box::new(control))).expect("feed");
        app.drain_events();
        assert_eq!(app.scene, 1);
        assert!(app.asked.is_none());

        // A wall's token may not steer: the key switches this wall, and later keys at once.
        app.scene_key(0);
        assert!(matches!(commands.try_recv(), Ok(Command::SteerRoom { .. })));
        let refused = ServerMessage::Error {
            code: "forbidden".into(),
            message: "only presenter tokens may change a room; this token is a wall's".into(),
            id: None,
        };
        feed.send(Event::Message(Box::new(refused))).expect("feed");
        app.drain_events();
        assert_eq!(app.scene, 0, "switched here after the refusal");
        app.scene_key(1);
        assert!(commands.try_recv().is_err(), "the room is not asked again");
        assert_eq!(app.scene, 1);

        // No connection when the key was sent: this wall switches.
        let (mut app, feed, mut commands) = desk_wall_steering();
        app.layout.room = Some("phong-hop".into());
        app.data.feed = Feed::Live {
            since_ms: live::now_ms(),
        };
        app.scene_key(1);
        assert!(matches!(commands.try_recv(), Ok(Command::SteerRoom { .. })));
        feed.send(Event::NotSteered).expect("feed");
        app.drain_events();
        assert_eq!(app.scene, 1);

        // A wall in no room, or with its feed down, switches by itself at once.
        let (mut app, _feed, mut commands) = desk_wall_steering();
        app.scene_key(1);
        assert!(commands.try_recv().is_err());
        assert_eq!(app.scene, 1);
    }

    fn drawn(app: &App) -> Vec<String> {
        app.list.texts.iter().map(|t| t.key.text.clone()).collect()
    }

    /// The windows drawn in one event-loop turn share one composition, but a change that
    /// arrives just after it (a figure, a presenter's scene, a room control) is composed into
    /// the very next frame: not a frame later, nor a second later on a still wall.
    #[test]
    fn a_change_just_after_a_frame_is_in_the_next_frame() {
        let (mut app, feed) = desk_wall();
        let period = app
            .data
            .latest_period("NS01", "VN", None, None)
            .expect("NS01 in the demo");
        let tile = app.layout.scenes[0]
            .panels
            .iter()
            .position(|p| p.widget == layout::WidgetKind::Kpi && p.indicators == ["NS01"])
            .expect("the budget revenue tile");
        app.compose_if_stale();
        let before = app.list.panel_hash(tile);

        let version = app.data.version + 1;
        let delta = ServerMessage::Delta {
            id: "t".into(),
            from_version: version - 1,
            version,
            cells: vec![Cell {
                i: "NS01".into(),
                u: "VN".into(),
                p: period,
                v: Some(123_456.0),
                c: None,
            }],
        };
        feed.send(Event::Message(Box::new(delta))).expect("feed");
        app.drain_events();
        app.compose_if_stale();
        // The tile lights up (its figure then counts to the new value).
        assert_ne!(
            app.list.panel_hash(tile),
            before,
            "the changed tile is drawn at once"
        );

        app.switch_scene(1);
        app.compose_if_stale();
        let second = app.layout.scenes[1].title.clone();
        assert!(
            drawn(&app).contains(&second),
            "the presenter's scene {second:?} is drawn at once: {:?}",
            drawn(&app)
        );

        // A room control arrives stamped for a moment ahead (every wall of the room changes
        // then), and comes due between two frames with nothing else arriving.
        let due = live::now_ms() + 40;
        let control = ServerMessage::Control {
            room: "r".into(),
            version: 1,
            apply_at_ms: due,
            state: RoomState {
                scene: Some(app.layout.scenes[0].name.clone()),
                ..RoomState::default()
            },
        };
        let first = app.layout.scenes[0].title.clone();
        feed.send(Event::Message(Box::new(control))).expect("feed");
        app.drain_events();
        app.compose_if_stale();
        assert!(drawn(&app).contains(&second), "not before its time");
        while live::now_ms() <= due {
            std::thread::sleep(Duration::from_millis(5));
        }
        app.compose_if_stale();
        app.drain_events();
        app.compose_if_stale();
        assert!(
            drawn(&app).contains(&first),
            "the room's scene {first:?} is drawn at once: {:?}",
            drawn(&app)
        );
    }

    #[test]
    fn room_changes_wait_for_their_stamped_time_and_apply_in_order() {
        let mut c = Controls::default();
        let scene = |n: &str| RoomState {
            scene: Some(n.into()),
            ..RoomState::default()
        };
        c.push(2_000, scene("b"));
        c.push(1_000, scene("a"));
        assert!(c.due(999).is_empty(), "not before the stamped time");
        assert_eq!(c.due(1_000), vec![scene("a")]);
        assert_eq!(c.due(5_000), vec![scene("b")]);
        assert!(c.is_empty());
    }

    #[test]
    fn a_cleared_focus_leaves_the_wall_and_moves_its_views() {
        let mut c = Controls::default();
        let mut room = RoomState::default();
        let focused = RoomState {
            scene: Some("tong-quan".into()),
            focus_unit: Some("79".into()),
            ..RoomState::default()
        };
        c.push(1_000, focused.clone());
        let a = c.apply_due(1_000, &mut room);
        assert_eq!(room, focused);
        assert_eq!(a.scene.as_deref(), Some("tong-quan"));
        assert!(a.views_moved);
        // The server's next state has no focus: the presenter cleared it.
        c.push(
            2_000,
            RoomState {
                scene: Some("tong-quan".into()),
                ..RoomState::default()
            },
        );
        let a = c.apply_due(2_000, &mut room);
        assert_eq!(room.focus_unit, None, "back to the whole country");
        assert!(a.views_moved, "the panels' views follow");
        assert_eq!(
            c.apply_due(3_000, &mut room),
            Applied::default(),
            "nothing due"
        );
    }
}
