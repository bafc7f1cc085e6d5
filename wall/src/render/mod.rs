//! How to draw: one wgpu device for every screen, a shape pipeline (`shaders/shape.wgsl`) and
//! a text pass (`glyphs`, `shaders/text.wgsl`: each run rasterised once by cosmic-text into an
//! atlas, in its colour). [`Renderer::prepare`] uploads a frame's [`DisplayList`]: for each screen the
//! target shows, only the triangles that touch that screen, split into runs of opaque shapes
//! (drawn without blending) and translucent ones; [`Renderer::render`] then draws them into any
//! texture — a window surface or an offscreen texture for PNGs and tests — moving each
//! screen's part of the canvas to its place (bezel compensation) and clipping to it. Text that
//! lies on one flat colour with nothing else under or over it is made over that colour in the
//! atlas and copied into the target after the pass ([`Renderer::copy_text`]): on lavapipe a
//! copy is a memory move where a drawn strip is a shaded, blended pixel each, and a whole
//! frame at 7680×3240 took 31.4 ms instead of 39.2 (medians of 6 alternating runs). Likewise a
//! frame drawn whole on a CPU adapter starts from copies of a strip of its clear colour, not
//! the pass's clear, which lavapipe does tile by tile at a third of a copy's speed
//! ([`Renderer::fill_by_copy`]).
//!
//! Targets are plain (non-sRGB) 8-bit formats and colours are written as sRGB values, blended in
//! sRGB space as browsers do: on a CPU adapter an sRGB target costs an encode and a decode per
//! blended pixel, which at 25 megapixels is most of the frame.

mod glyphs;
pub mod text;

use std::time::Duration;

use thiserror::Error;

use crate::draw::{Color, DisplayList, Vertex};
use crate::layout::Rect;
use glyphs::{TextArea, TextCopy, TextPass};
use text::TextShaper;

/// Why the wall cannot draw.
#[derive(Debug, Error)]
pub enum RenderError {
    /// No Vulkan adapter, not even the software one.
    #[error(
        "no graphics adapter found ({0}). On a machine without a GPU install Mesa's software \
         Vulkan driver (Debian: apt install mesa-vulkan-drivers libvulkan1); scripts/run and \
         scripts/test do this themselves"
    )]
    NoAdapter(String),
    /// The adapter refused a device.
    #[error("the graphics adapter refused a device: {0}")]
    Device(String),
    /// The requested target is larger than the adapter allows.
    #[error(
        "a {width}×{height} target exceeds this adapter's limit of {max} pixels a side; split \
         the wall into outputs or render one scene at a time"
    )]
    TooLarge { width: u32, height: u32, max: u32 },
    /// Text could not be prepared (glyph atlas full).
    #[error("preparing text failed: {0}")]
    Text(String),
    /// Reading the rendered image back failed.
    #[error("reading the frame back failed: {0}")]
    Readback(String),
    /// The adapter did not finish drawing a frame.
    #[error("the graphics adapter did not finish drawing the frame: {0}")]
    Draw(String),
}

/// The device every screen shares.
pub struct Gpu {
    pub instance: wgpu::Instance,
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
}

impl Gpu {
    /// Opens the best adapter (a real GPU if any, else Mesa's lavapipe). Fails — never silently
    /// falls back to nothing — when none exists.
    pub fn new(
        instance: wgpu::Instance,
        surface: Option<&wgpu::Surface<'_>>,
    ) -> Result<Gpu, RenderError> {
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: surface,
            apply_limit_buckets: false,
        }))
        .map_err(|e| RenderError::NoAdapter(e.to_string()))?;
        let info = adapter.get_info();
        tracing::info!(
            adapter = %info.name,
            backend = ?info.backend,
            kind = ?info.device_type,
            driver = %info.driver_info,
            "graphics adapter"
        );
        // Ask for the adapter's own texture limit: a 4×3 wall of 1080p screens is 7680 wide.
        let limits = wgpu::Limits {
            max_texture_dimension_2d: adapter.limits().max_texture_dimension_2d,
            ..wgpu::Limits::downlevel_defaults()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("dieuhanh-wall"),
            required_features: wgpu::Features::empty(),
            required_limits: limits,
            ..Default::default()
        }))
        .map_err(|e| RenderError::Device(e.to_string()))?;
        Ok(Gpu {
            instance,
            adapter,
            device,
            queue,
        })
    }

    /// A device with no window (PNG renders, tests, benchmarks).
    pub fn headless() -> Result<Gpu, RenderError> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        Gpu::new(instance, None)
    }

    /// "llvmpipe (LLVM …) Vulkan Cpu" and the like.
    pub fn describe(&self) -> String {
        let i = self.adapter.get_info();
        format!("{} ({:?}, {:?})", i.name, i.backend, i.device_type)
    }
}

/// Where one screen's part of the canvas lands in a target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScreenMap {
    /// The screen's part of the canvas.
    pub canvas: Rect,
    /// Its place in the target, in target pixels (same aspect as `canvas`).
    pub target: Rect,
}

impl ScreenMap {
    fn scale(&self) -> f32 {
        self.target.w / self.canvas.w.max(1e-6)
    }
}

#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ScreenUniform {
    canvas_origin: [f32; 2],
    target_origin: [f32; 2],
    target_size: [f32; 2],
    scale: f32,
    srgb_target: f32,
}

/// Uniform slots are this far apart (wgpu's minimum uniform offset alignment).
const UNIFORM_STRIDE: u64 = 256;

/// Rows of the fill strip: 2 MB at 7680 wide, so it stays in the cache while copied down the
/// target (taller strips measured no faster).
const FILL_ROWS: u32 = 64;

/// Pipelines and text state, long-lived; one per target format.
pub struct Renderer {
    format: wgpu::TextureFormat,
    opaque: wgpu::RenderPipeline,
    blended: wgpu::RenderPipeline,
    screen_layout: wgpu::BindGroupLayout,
    screen_buffer: wgpu::Buffer,
    screen_bind: wgpu::BindGroup,
    screen_slots: usize,
    vertex_buffer: Option<wgpu::Buffer>,
    /// Per screen: runs of vertices in the buffer, each opaque or blended.
    runs: Vec<Vec<(std::ops::Range<u32>, bool)>>,
    culled: Vec<Vertex>,
    /// A full frame's triangles after [`panel_fills`] took the panels' backgrounds out.
    substituted: Vec<Vertex>,
    /// A partial frame's background where the damage is not under a panel's own background.
    backdrop: Vec<Vertex>,
    /// The frame's triangles in the damage (index, bounds), reused.
    candidates: Vec<(usize, [f32; 4])>,
    /// Where the frame's shapes and text lie, to find the text that can be copied.
    copy_grid: Grid,
    /// The frame's text areas' ink rectangles (reused).
    inks: Vec<Option<[i32; 4]>>,
    /// The frame's runs (indices into the display list's texts) that ink pixels not of one
    /// flat colour, and are blended, with their ink.
    blended_runs: Vec<(usize, [i32; 4])>,
    /// The target's size in pixels, as last prepared.
    target_size: [u32; 2],
    text: TextPass,
    swash: glyphon::SwashCache,
    prepared_screens: Vec<ScreenMap>,
    clear: wgpu::Color,
    /// What the target holds from the last frame: its size, screens, background and each
    /// panel's rectangle and fingerprint; `None` when unknown (first frame, invalidated).
    drawn: Option<Drawn>,
    /// Canvas rectangles this frame redraws; empty means the whole target.
    damage: Vec<Rect>,
    /// Whether the target keeps its pixels between frames (offscreen textures do; swapchain
    /// images rotate, so windows redraw fully).
    pub retained: bool,
    /// Whether text on one flat colour (a panel's background, a table's row), with nothing else
    /// under or over it, is copied into the target from the atlas instead of drawn. On by
    /// default for plain BGRA targets (the atlas's format); whoever renders into a texture
    /// without `COPY_DST` turns it off.
    pub copy_text: bool,
    /// Whether a frame drawn whole starts by copying a strip of its clear colour down the
    /// target instead of clearing it in the render pass. On by default on a CPU adapter
    /// (lavapipe), whose render-pass clear fills the target tile by tile, 64 pixels of a row at
    /// a time: at 7680×3240 that took 30–40 ms where the copies take ~15 (a 2 MB strip, read
    /// from the cache, written row after row). A GPU clears for free, so it keeps the clear.
    pub fill_by_copy: bool,
    /// The strip [`Renderer::fill_by_copy`] copies, as wide as the target, and its pixel.
    fill_strip: Option<(wgpu::Texture, [u8; 4])>,
}

#[derive(Debug, Clone, PartialEq)]
struct Drawn {
    size: [u32; 2],
    screens: Vec<ScreenMap>,
    background: [u32; 4],
    panels: Vec<(Rect, u64)>,
}

impl Renderer {
    pub fn new(gpu: &Gpu, format: wgpu::TextureFormat) -> Renderer {
        let device = &gpu.device;
        let shader = device.create_shader_module(wgpu::include_wgsl!("../../shaders/shape.wgsl"));
        let screen_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("screen"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: true,
                    min_binding_size: wgpu::BufferSize::new(
                        std::mem::size_of::<ScreenUniform>() as u64
                    ),
                },
                count: None,
            }],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("shapes"),
            bind_group_layouts: &[Some(&screen_layout)],
            immediate_size: 0,
        });
        let vertex = wgpu::VertexBufferLayout {
            array_stride: std::mem::size_of::<Vertex>() as u64,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &wgpu::vertex_attr_array![0 => Float32x2, 1 => Float32x4],
        };
        let pipeline = |label: &str, blend: Option<wgpu::BlendState>| {
            triangle_pipeline(
                device,
                label,
                &layout,
                (&shader, "fs_main"),
                vertex.clone(),
                format,
                blend,
            )
        };
        let opaque = pipeline("opaque shapes", None);
        let blended = pipeline("blended shapes", Some(wgpu::BlendState::ALPHA_BLENDING));
        let (screen_buffer, screen_bind) = Self::screen_slots(device, &screen_layout, 16);
        let text = TextPass::new(device, format);
        Renderer {
            format,
            opaque,
            blended,
            screen_layout,
            screen_buffer,
            screen_bind,
            screen_slots: 16,
            vertex_buffer: None,
            runs: Vec::new(),
            culled: Vec::new(),
            substituted: Vec::new(),
            backdrop: Vec::new(),
            candidates: Vec::new(),
            copy_grid: Grid::default(),
            inks: Vec::new(),
            blended_runs: Vec::new(),
            target_size: [0, 0],
            text,
            swash: glyphon::SwashCache::new(),
            prepared_screens: Vec::new(),
            clear: wgpu::Color::BLACK,
            drawn: None,
            damage: Vec::new(),
            retained: false,
            copy_text: format == glyphs::ATLAS_FORMAT,
            fill_by_copy: gpu.adapter.get_info().device_type == wgpu::DeviceType::Cpu
                && format == glyphs::ATLAS_FORMAT,
            fill_strip: None,
        }
    }

    pub fn format(&self) -> wgpu::TextureFormat {
        self.format
    }

    fn screen_slots(
        device: &wgpu::Device,
        layout: &wgpu::BindGroupLayout,
        slots: usize,
    ) -> (wgpu::Buffer, wgpu::BindGroup) {
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("screens"),
            size: UNIFORM_STRIDE * slots as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("screens"),
            layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &buffer,
                    offset: 0,
                    size: wgpu::BufferSize::new(std::mem::size_of::<ScreenUniform>() as u64),
                }),
            }],
        });
        (buffer, bind)
    }

    /// Uploads a frame for a target of `target_size` showing `screens`: shapes once, text
    /// areas once per screen (each clipped to the screen and its panel).
    pub fn prepare(
        &mut self,
        gpu: &Gpu,
        shaper: &mut TextShaper,
        list: &DisplayList,
        background: Color,
        screens: &[ScreenMap],
        target_size: [u32; 2],
    ) -> Result<(), RenderError> {
        let device = &gpu.device;
        let queue = &gpu.queue;
        if screens.len() > self.screen_slots {
            let slots = screens.len().next_power_of_two();
            let (b, g) = Self::screen_slots(device, &self.screen_layout, slots);
            self.screen_buffer = b;
            self.screen_bind = g;
            self.screen_slots = slots;
        }
        let mut uniforms = vec![0u8; UNIFORM_STRIDE as usize * screens.len()];
        for (i, s) in screens.iter().enumerate() {
            let u = ScreenUniform {
                canvas_origin: [s.canvas.x, s.canvas.y],
                target_origin: [s.target.x, s.target.y],
                target_size: [target_size[0] as f32, target_size[1] as f32],
                scale: s.scale(),
                srgb_target: if self.format.is_srgb() { 1.0 } else { 0.0 },
            };
            let at = i * UNIFORM_STRIDE as usize;
            uniforms[at..at + std::mem::size_of::<ScreenUniform>()]
                .copy_from_slice(bytemuck::bytes_of(&u));
        }
        if !uniforms.is_empty() {
            queue.write_buffer(&self.screen_buffer, 0, &uniforms);
        }

        // Damage: on a retained target, only panels whose fingerprint changed (or that came or
        // went) are redrawn; everything else keeps last frame's pixels.
        let now = Drawn {
            size: target_size,
            screens: screens.to_vec(),
            background: background.0.map(f32::to_bits),
            panels: (0..list.panels.len())
                .map(|i| (list.panels[i].rect, list.panel_hash(i)))
                .collect(),
        };
        self.damage.clear();
        let outside_panels = list.vertices.len() > list.panels.last().map_or(0, |m| m.vertices.end)
            || list.panels.first().is_some_and(|m| m.vertices.start > 0);
        if let Some(before) = self
            .drawn
            .as_ref()
            .filter(|_| self.retained && !outside_panels)
            && before.size == now.size
            && before.screens == now.screens
            && before.background == now.background
        {
            for p in now.panels.iter().filter(|p| !before.panels.contains(p)) {
                self.damage.push(p.0);
            }
            for p in before.panels.iter().filter(|p| !now.panels.contains(p)) {
                if !self.damage.contains(&p.0) {
                    self.damage.push(p.0);
                }
            }
            // A pixel in two rectangles would be drawn twice, its text and translucent shapes
            // blended twice.
            disjoint(&mut self.damage);
            let shown: f32 = screens.iter().map(|s| s.canvas.w * s.canvas.h).sum();
            let damaged: f32 = self.damage.iter().map(|d| d.w * d.h).sum();
            if damaged >= shown * WHOLE_FRAME_SHARE {
                // A scene switch: cheaper redrawn whole, cleared, than in pieces of triangles.
                self.damage.clear();
            } else if self.damage.is_empty() {
                // Nothing changed: an empty damage list would mean "everything".
                self.damage.push(Rect::new(0.0, 0.0, 0.0, 0.0));
            }
        }
        self.drawn = Some(now);
        let damage = &self.damage;
        let touches_damage = |x0: f32, y0: f32, x1: f32, y1: f32| {
            damage.is_empty()
                || damage
                    .iter()
                    .any(|d| !(x1 < d.x || y1 < d.y || x0 > d.x + d.w || y0 > d.y + d.h))
        };

        // A full frame clears to the panels' own colour and draws only the space between them,
        // so the rasteriser does not fill most of the canvas twice (on lavapipe, triangles fill
        // at a fraction of a clear's speed).
        let mut substituted = std::mem::take(&mut self.substituted);
        substituted.clear();
        // Only where the screens tile the whole target: a letterboxed feed keeps its margins.
        let whole = Rect::new(0.0, 0.0, target_size[0] as f32, target_size[1] as f32);
        let shown: f32 = screens
            .iter()
            .filter_map(|s| s.target.intersection(&whole))
            .map(|r| r.w * r.h)
            .sum();
        let fill = if damage.is_empty() && shown >= whole.w * whole.h - 0.5 {
            panel_fills(list, screens, background, &mut substituted)
        } else {
            None
        };
        let vertices: &[Vertex] = if fill.is_some() {
            &substituted
        } else {
            &list.vertices
        };
        // A partial frame starts from what the target holds: where no panel paints its own
        // background (a panel of the last scene, none now), the wall's background goes first.
        let mut backdrop = std::mem::take(&mut self.backdrop);
        backdrop.clear();
        if !damage.is_empty() {
            let panels: Vec<[f32; 4]> = panel_backgrounds(list).map(|(_, r, _)| r).collect();
            for d in damage.iter().filter(|d| d.w > 0.0 && d.h > 0.0) {
                let bound = [d.x, d.y, d.x + d.w, d.y + d.h];
                push_quads(&mut backdrop, complement(bound, &panels), background);
            }
        }

        // Each screen gets only the triangles that touch it (a 4×3 wall would otherwise set up
        // every triangle twelve times), in their order, in runs of equal opacity.
        self.culled.clear();
        self.runs.clear();
        // The triangles in the damage and their bounds, found once rather than per screen (a
        // map's thousands of triangles, twelve screens).
        let mut candidates = std::mem::take(&mut self.candidates);
        candidates.clear();
        for (i, tri) in backdrop
            .chunks_exact(3)
            .chain(vertices.chunks_exact(3))
            .enumerate()
        {
            let b = bounds(tri);
            if touches_damage(b[0], b[1], b[2], b[3]) {
                candidates.push((i, b));
            }
        }
        let from_backdrop = backdrop.len() / 3;
        for s in screens {
            let c = s.canvas;
            let mut runs: Vec<(std::ops::Range<u32>, bool)> = Vec::new();
            for &(i, [x0, y0, x1, y1]) in &candidates {
                if x1 < c.x || y1 < c.y || x0 > c.x + c.w || y0 > c.y + c.h {
                    continue;
                }
                let tri = if i < from_backdrop {
                    &backdrop[i * 3..i * 3 + 3]
                } else {
                    let j = i - from_backdrop;
                    &vertices[j * 3..j * 3 + 3]
                };
                let opaque = tri.iter().all(|v| v.color[3] >= 1.0);
                let at = self.culled.len() as u32;
                self.culled.extend_from_slice(tri);
                match runs.last_mut() {
                    Some((r, o)) if *o == opaque && r.end == at => r.end = at + 3,
                    _ => runs.push((at..at + 3, opaque)),
                }
            }
            self.runs.push(runs);
        }
        self.substituted = substituted;
        self.backdrop = backdrop;
        self.candidates = candidates;
        let bytes: &[u8] = bytemuck::cast_slice(&self.culled);
        let needed = bytes.len() as u64;
        let reuse = self
            .vertex_buffer
            .as_ref()
            .is_some_and(|b| b.size() >= needed && needed > 0);
        if reuse {
            if let Some(b) = &self.vertex_buffer {
                queue.write_buffer(b, 0, bytes);
            }
        } else if needed > 0 {
            // Grow with headroom so a changing frame does not reallocate every time.
            let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("shape vertices"),
                size: (needed * 3 / 2).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT),
                usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            queue.write_buffer(&buffer, 0, bytes);
            self.vertex_buffer = Some(buffer);
        }

        // Shape every run first (cached), then borrow the buffers for the text areas.
        for run in &list.texts {
            shaper.measure(&run.key);
        }
        let (fonts, runs) = shaper.split();
        let mut areas = Vec::new();
        for s in screens {
            let scale = s.scale();
            for (index, run) in list.texts.iter().enumerate() {
                let Some(visible) = run.rect.intersection(&s.canvas) else {
                    continue;
                };
                let Some(visible) = visible.intersection(&run.clip) else {
                    continue;
                };
                if !touches_damage(
                    visible.x,
                    visible.y,
                    visible.x + visible.w,
                    visible.y + visible.h,
                ) {
                    continue;
                }
                let Some(buffer) = runs.get(&run.key) else {
                    continue;
                };
                let to_target = |x: f32, y: f32| {
                    [
                        (x - s.canvas.x) * scale + s.target.x,
                        (y - s.canvas.y) * scale + s.target.y,
                    ]
                };
                let [left, top] = to_target(run.rect.x, run.rect.y);
                let [bl, bt] = to_target(visible.x, visible.y);
                let [br, bb] = to_target(visible.x + visible.w, visible.y + visible.h);
                areas.push(TextArea {
                    run: index,
                    buffer,
                    key: &run.key,
                    left,
                    top,
                    scale,
                    bounds: [
                        bl.floor() as i32,
                        bt.floor() as i32,
                        br.ceil() as i32,
                        bb.ceil() as i32,
                    ],
                    color: run.color.to_rgba8(),
                    over: None,
                });
            }
        }
        self.blended_runs.clear();
        if self.copy_text && self.format == glyphs::ATLAS_FORMAT {
            let cleared = fill.unwrap_or(background);
            self.choose_copies(screens, fonts, &mut areas, target_size, cleared);
        }
        self.target_size = target_size;
        self.text
            .prepare(device, queue, fonts, &mut self.swash, &areas, target_size)?;
        self.prepared_screens = screens.to_vec();
        self.clear = wgpu_color(fill.unwrap_or(background), self.format.is_srgb());
        if self.fill_by_copy && self.damage.is_empty() {
            self.prepare_fill_strip(gpu, fill.unwrap_or(background), target_size[0]);
        }
        Ok(())
    }

    /// Makes the strip of `colour` that a frame drawn whole is filled from, `width` pixels wide.
    fn prepare_fill_strip(&mut self, gpu: &Gpu, colour: Color, width: u32) {
        let [r, g, b, a] = colour.to_rgba8();
        let pixel = [b, g, r, a];
        if self
            .fill_strip
            .as_ref()
            .is_some_and(|(t, p)| *p == pixel && t.width() == width)
        {
            return;
        }
        let texture = gpu.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("fill strip"),
            size: wgpu::Extent3d {
                width,
                height: FILL_ROWS,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: glyphs::ATLAS_FORMAT,
            usage: wgpu::TextureUsages::COPY_SRC | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        });
        gpu.queue.write_texture(
            texture.as_image_copy(),
            &pixel.repeat((width * FILL_ROWS) as usize),
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(width * 4),
                rows_per_image: None,
            },
            texture.size(),
        );
        self.fill_strip = Some((texture, pixel));
    }

    /// Marks the text areas that can be copied (see [`TextArea::over`]). An area is judged by
    /// the pixels it can ink ([`TextPass::ink`]). They are one flat colour once the shapes are
    /// drawn when the last shape touching them is an opaque one-colour rectangle that holds
    /// them (a panel's background, a table's row), or, on a frame drawn whole, when no shape
    /// touches them (the clear colour). They must touch no other text's either. Shapes are
    /// judged by their bounding boxes, so a run merely near a diagonal is drawn.
    fn choose_copies(
        &mut self,
        screens: &[ScreenMap],
        fonts: &mut glyphon::FontSystem,
        areas: &mut [TextArea<'_>],
        target_size: [u32; 2],
        cleared: Color,
    ) {
        // Each culled triangle's bounding box in target pixels, kept to its screen (the scissor
        // keeps it there), and for the second triangle of an opaque one-colour rectangle, that
        // rectangle's whole pixels and colour.
        let mut taken = std::mem::take(&mut self.copy_grid);
        taken.reset(target_size);
        let mut rects: Vec<Option<([i32; 4], [f32; 4])>> = vec![None; self.culled.len() / 3];
        for (i, s) in screens.iter().enumerate() {
            let k = s.scale();
            let to_target = |r: [f32; 4]| {
                let t = s.target;
                [
                    ((r[0] - s.canvas.x) * k + s.target.x).max(t.x),
                    ((r[1] - s.canvas.y) * k + s.target.y).max(t.y),
                    ((r[2] - s.canvas.x) * k + s.target.x).min(t.x + t.w),
                    ((r[3] - s.canvas.y) * k + s.target.y).min(t.y + t.h),
                ]
            };
            for (range, _) in self.runs.get(i).into_iter().flatten() {
                let (from, to) = (range.start as usize / 3, range.end as usize / 3);
                for (n, slot) in rects.iter_mut().enumerate().take(to).skip(from) {
                    let tri = &self.culled[n * 3..n * 3 + 3];
                    let [x0, y0, x1, y1] = to_target(bounds(tri));
                    let outer = [
                        x0.floor() as i32,
                        y0.floor() as i32,
                        x1.ceil() as i32,
                        y1.ceil() as i32,
                    ];
                    taken.insert(outer, n);
                    if n > from
                        && let Some(r) = flat_rect(&self.culled[n * 3 - 3..n * 3 + 3])
                    {
                        let [x0, y0, x1, y1] = to_target(r);
                        let inner = [
                            x0.ceil() as i32,
                            y0.ceil() as i32,
                            x1.floor() as i32,
                            y1.floor() as i32,
                        ];
                        *slot = Some((inner, tri[0].color));
                    }
                }
            }
        }
        // Each area by the pixels it can ink, not its line box: a tile's lines, set close,
        // share a row of their boxes and none of their ink.
        let mut inks = std::mem::take(&mut self.inks);
        inks.clear();
        inks.extend(
            areas
                .iter()
                .map(|a| self.text.ink(fonts, &mut self.swash, a)),
        );
        let texts = rects.len();
        for (k, ink) in inks.iter().enumerate() {
            if let Some(ink) = ink {
                taken.insert(*ink, texts + k);
            }
        }
        for (k, a) in areas.iter_mut().enumerate() {
            // Nothing inked: nothing drawn or copied either way.
            let Some(b) = inks[k] else {
                continue;
            };
            let mut last = None;
            let mut other_text = false;
            taken.each_touching(b, |owner| {
                if owner >= texts {
                    other_text |= owner != texts + k;
                } else {
                    last = last.max(Some(owner));
                }
            });
            if other_text {
                self.blended_runs.push((a.run, b));
                continue;
            }
            let colour = match last {
                None if self.damage.is_empty() => Some(cleared.0),
                None => None,
                Some(t) => rects[t]
                    .filter(|(r, _)| r[0] <= b[0] && r[1] <= b[1] && r[2] >= b[2] && r[3] >= b[3])
                    .map(|(_, c)| c),
            };
            a.over = colour.map(|c| Color(c).to_rgba8());
            if a.over.is_none() {
                self.blended_runs.push((a.run, b));
            }
        }
        self.copy_grid = taken;
        self.inks = inks;
    }

    /// Draws the prepared frame into `target`: shapes and blended text in one pass, then the
    /// text that is copied.
    pub fn render(&self, encoder: &mut wgpu::CommandEncoder, target: &wgpu::Texture) {
        let view = target.create_view(&wgpu::TextureViewDescriptor::default());
        let filled = self.fill(encoder, target);
        self.draw_pass(encoder, &view, filled);
        self.copy_text_into(encoder, target);
    }

    /// On a frame drawn whole, fills `target` with the clear colour by copying the fill strip
    /// down it (see [`Renderer::fill_by_copy`]); false when it did not, and the pass clears.
    fn fill(&self, encoder: &mut wgpu::CommandEncoder, target: &wgpu::Texture) -> bool {
        let Some((strip, _)) = self.fill_strip.as_ref() else {
            return false;
        };
        if !self.fill_by_copy
            || !self.damage.is_empty()
            || strip.width() != target.width()
            || target.format() != strip.format()
            || !target.usage().contains(wgpu::TextureUsages::COPY_DST)
        {
            return false;
        }
        for y in (0..target.height()).step_by(FILL_ROWS as usize) {
            encoder.copy_texture_to_texture(
                strip.as_image_copy(),
                wgpu::TexelCopyTextureInfo {
                    texture: target,
                    mip_level: 0,
                    origin: wgpu::Origin3d { x: 0, y, z: 0 },
                    aspect: wgpu::TextureAspect::All,
                },
                wgpu::Extent3d {
                    width: target.width(),
                    height: FILL_ROWS.min(target.height() - y),
                    depth_or_array_layers: 1,
                },
            );
        }
        true
    }

    /// Copies the frame's copied text into `target`, inside what this frame redraws.
    fn copy_text_into(&self, encoder: &mut wgpu::CommandEncoder, target: &wgpu::Texture) {
        let copies = self.text.copies();
        if copies.is_empty() {
            return;
        }
        if !target.usage().contains(wgpu::TextureUsages::COPY_DST)
            || target.format() != glyphs::ATLAS_FORMAT
        {
            // A caller's mistake (it should have turned `copy_text` off), not the user's.
            tracing::error!(
                format = ?target.format(),
                "text left out: the target takes no copies; turn Renderer::copy_text off"
            );
            return;
        }
        let clips: Vec<(u32, u32, u32, u32)> = if self.damage.is_empty() {
            vec![(0, 0, target.width(), target.height())]
        } else {
            self.prepared_screens
                .iter()
                .flat_map(|s| self.clips(s))
                .filter_map(scissor)
                .collect()
        };
        let atlas = self.text.atlas_texture();
        for &TextCopy { src, dst, size } in copies {
            for &(cx, cy, cw, ch) in &clips {
                let x0 = dst[0].max(cx);
                let y0 = dst[1].max(cy);
                let x1 = (dst[0] + size[0]).min(cx + cw).min(target.width());
                let y1 = (dst[1] + size[1]).min(cy + ch).min(target.height());
                if x0 >= x1 || y0 >= y1 {
                    continue;
                }
                encoder.copy_texture_to_texture(
                    wgpu::TexelCopyTextureInfo {
                        texture: atlas,
                        mip_level: 0,
                        origin: wgpu::Origin3d {
                            x: src[0] + (x0 - dst[0]),
                            y: src[1] + (y0 - dst[1]),
                            z: 0,
                        },
                        aspect: wgpu::TextureAspect::All,
                    },
                    wgpu::TexelCopyTextureInfo {
                        texture: target,
                        mip_level: 0,
                        origin: wgpu::Origin3d { x: x0, y: y0, z: 0 },
                        aspect: wgpu::TextureAspect::All,
                    },
                    wgpu::Extent3d {
                        width: x1 - x0,
                        height: y1 - y0,
                        depth_or_array_layers: 1,
                    },
                );
            }
        }
    }

    /// The render pass: shapes, then the text that is blended.
    fn draw_pass(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        view: &wgpu::TextureView,
        filled: bool,
    ) {
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("wall frame"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: if self.damage.is_empty() && !filled {
                        wgpu::LoadOp::Clear(self.clear)
                    } else {
                        wgpu::LoadOp::Load
                    },
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        if let Some(vb) = &self.vertex_buffer
            && !self.culled.is_empty()
        {
            pass.set_vertex_buffer(0, vb.slice(..));
            for (i, s) in self.prepared_screens.iter().enumerate() {
                pass.set_bind_group(0, &self.screen_bind, &[(i as u64 * UNIFORM_STRIDE) as u32]);
                for clip in self.clips(s) {
                    let Some((x, y, w, h)) = scissor(clip) else {
                        continue;
                    };
                    pass.set_scissor_rect(x, y, w, h);
                    for (range, opaque) in self.runs.get(i).into_iter().flatten() {
                        pass.set_pipeline(if *opaque { &self.opaque } else { &self.blended });
                        pass.draw(range.clone(), 0..1);
                    }
                }
            }
        }
        // Text areas carry their own per-screen bounds; on a partial frame the scissor keeps
        // them inside the damage.
        let full = Rect::new(
            0.0,
            0.0,
            self.target_size[0] as f32,
            self.target_size[1] as f32,
        );
        let clips: Vec<Rect> = if self.damage.is_empty() {
            vec![full]
        } else {
            self.prepared_screens
                .iter()
                .flat_map(|s| self.clips(s))
                .collect()
        };
        for clip in clips {
            let Some((x, y, w, h)) = scissor(clip) else {
                continue;
            };
            pass.set_scissor_rect(x, y, w, h);
            self.text.render(&mut pass);
        }
    }

    /// A window's frame: draws the prepared frame into `kept`, which holds the frame before
    /// (so a retained renderer redraws only the damage), and copies it whole to `target`, the
    /// swapchain image — whose contents rotate, so no frame can be kept in it.
    pub fn render_kept(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        kept: &wgpu::Texture,
        target: &wgpu::Texture,
    ) {
        self.render(encoder, kept);
        encoder.copy_texture_to_texture(
            kept.as_image_copy(),
            target.as_image_copy(),
            wgpu::Extent3d {
                width: kept.width().min(target.width()),
                height: kept.height().min(target.height()),
                depth_or_array_layers: 1,
            },
        );
    }

    /// The target rectangles to draw on screen `s`: the whole screen, or the damage on it.
    fn clips(&self, s: &ScreenMap) -> Vec<Rect> {
        if self.damage.is_empty() {
            return vec![s.target];
        }
        let k = s.scale();
        self.damage
            .iter()
            .filter_map(|d| d.intersection(&s.canvas))
            .map(|d| {
                Rect::new(
                    (d.x - s.canvas.x) * k + s.target.x,
                    (d.y - s.canvas.y) * k + s.target.y,
                    d.w * k,
                    d.h * k,
                )
            })
            .filter_map(|d| d.intersection(&s.target))
            .collect()
    }

    /// The next frame redraws the whole target.
    pub fn invalidate(&mut self) {
        self.drawn = None;
    }

    /// How many pieces of the prepared frame's text are copied, and how many drawn.
    pub fn text_pieces(&self) -> (usize, usize) {
        (self.text.copies().len(), self.text.quads())
    }

    /// The prepared frame's runs (indices into the display list's `texts`) drawn blended
    /// because their ink touches another run's, a shape that is not a flat rectangle holding
    /// them, or (on a partial frame) nothing that says what is under them; with their ink in
    /// target pixels. Only found when text is copied: otherwise every run is blended and this
    /// is empty.
    pub fn blended_texts(&self) -> &[(usize, [i32; 4])] {
        &self.blended_runs
    }

    /// The canvas rectangles the prepared frame redraws (empty: all of it).
    pub fn damage(&self) -> &[Rect] {
        &self.damage
    }

    /// Frees atlas space of glyphs no longer used (call after presenting).
    pub fn trim(&mut self) {
        TextPass::trim(&mut self.swash);
    }
}

/// The bounding box `[x0, y0, x1, y1]` of some vertices (a triangle), canvas pixels.
fn bounds(vertices: &[Vertex]) -> [f32; 4] {
    vertices.iter().fold(
        [f32::MAX, f32::MAX, f32::MIN, f32::MIN],
        |[x0, y0, x1, y1], v| {
            let [x, y] = v.position;
            [x0.min(x), y0.min(y), x1.max(x), y1.max(y)]
        },
    )
}

/// Takes the panels' background rectangles out of a full frame: returns the colour to clear the
/// target to and writes to `out` the frame's triangles without those rectangles, after
/// background-coloured rectangles covering everything outside them. The pixels are the same as
/// drawing the list over a `background` clear — the rectangles share their edges exactly, so
/// the rasteriser's fill rule gives each pixel to the same side — but at 7680×3240 the
/// rasteriser fills ~3 instead of ~25 megapixels of opaque triangles.
///
/// A panel qualifies when its first two triangles are one opaque axis-aligned rectangle (its
/// background) and nothing drawn before it reaches into that rectangle; of those, the panels
/// of the colour covering most area are taken out. `None` when no panel qualifies.
fn panel_fills(
    list: &DisplayList,
    screens: &[ScreenMap],
    background: Color,
    out: &mut Vec<Vertex>,
) -> Option<Color> {
    let v = &list.vertices;
    // (vertex start, [x0, y0, x1, y1], colour) of each qualifying panel background.
    let mut fills: Vec<(usize, [f32; 4], [f32; 4])> = Vec::new();
    for (at, r, color) in panel_backgrounds(list) {
        // What comes earlier would have been painted over by the rectangle.
        let reached = v[..at].chunks_exact(3).any(|tri| {
            let [x0, y0, x1, y1] = bounds(tri);
            x1 > r[0] && x0 < r[2] && y1 > r[1] && y0 < r[3]
        });
        if !reached {
            fills.push((at, r, color));
        }
    }
    let area = |r: &[f32; 4]| ((r[2] - r[0]) * (r[3] - r[1])) as f64;
    let mut by_colour: Vec<([f32; 4], f64)> = Vec::new();
    for (_, r, c) in &fills {
        match by_colour.iter_mut().find(|(k, _)| k == c) {
            Some((_, a)) => *a += area(r),
            None => by_colour.push((*c, area(r))),
        }
    }
    let colour = by_colour
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| *c)?;
    fills.retain(|(_, _, c)| *c == colour);

    // Everything the screens show outside the taken rectangles, a little beyond the screens so
    // no edge pixel is left out.
    let mut bound = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
    for s in screens {
        bound[0] = bound[0].min(s.canvas.x - 2.0);
        bound[1] = bound[1].min(s.canvas.y - 2.0);
        bound[2] = bound[2].max(s.canvas.x + s.canvas.w + 2.0);
        bound[3] = bound[3].max(s.canvas.y + s.canvas.h + 2.0);
    }
    let rects: Vec<[f32; 4]> = fills.iter().map(|f| f.1).collect();
    push_quads(out, complement(bound, &rects), background);
    let mut from = 0;
    for (at, ..) in &fills {
        out.extend_from_slice(&v[from..*at]);
        from = at + 6;
    }
    out.extend_from_slice(&v[from..]);
    Some(Color(colour))
}

/// Each panel whose first two triangles are one opaque rectangle of one colour, its own
/// background: (its first vertex, `[x0, y0, x1, y1]`, the colour).
fn panel_backgrounds(list: &DisplayList) -> impl Iterator<Item = (usize, [f32; 4], [f32; 4])> {
    list.panels.iter().filter_map(|m| {
        let at = m.vertices.start;
        if m.vertices.len() < 6 {
            return None;
        }
        let q = &list.vertices[at..at + 6];
        flat_rect(q).map(|r| (at, r, q[0].color))
    })
}

/// The rectangle `[x0, y0, x1, y1]` two triangles (six vertices) make when they are one
/// opaque colour and laid out as the wall's rectangles are (`draw::DisplayList::rect`).
fn flat_rect(q: &[Vertex]) -> Option<[f32; 4]> {
    let color = q[0].color;
    if color[3] < 1.0 || q.iter().any(|x| x.color != color) {
        return None;
    }
    let [p0, p1, p2, p3] = [q[0].position, q[1].position, q[2].position, q[5].position];
    let is_rect = q[3].position == p0
        && q[4].position == p2
        && p0[1] == p1[1]
        && p1[0] == p2[0]
        && p2[1] == p3[1]
        && p3[0] == p0[0]
        && p0[0] < p1[0]
        && p0[1] < p2[1];
    is_rect.then_some([p0[0], p0[1], p1[0], p2[1]])
}

/// Two triangles of `color` for each rectangle (`[x0, y0, x1, y1]`).
fn push_quads(out: &mut Vec<Vertex>, rects: Vec<[f32; 4]>, color: Color) {
    for [x0, y0, x1, y1] in rects {
        for p in [[x0, y0], [x1, y0], [x1, y1], [x0, y0], [x1, y1], [x0, y1]] {
            out.push(Vertex {
                position: p,
                color: color.0,
            });
        }
    }
}

/// Grows rectangles that overlap into their common bounding box until none overlap.
fn disjoint(rects: &mut Vec<Rect>) {
    let mut i = 0;
    while i < rects.len() {
        let a = rects[i];
        match (i + 1..rects.len()).find(|&j| a.intersects(&rects[j])) {
            Some(j) => {
                let b = rects.swap_remove(j);
                let (x, y) = (a.x.min(b.x), a.y.min(b.y));
                rects[i] = Rect::new(
                    x,
                    y,
                    a.right().max(b.right()) - x,
                    a.bottom().max(b.bottom()) - y,
                );
                // The grown rectangle may now reach one already passed.
                i = 0;
            }
            None => i += 1,
        }
    }
}

/// `bound` minus the union of `holes` (each `[x0, y0, x1, y1]`, not overlapping each other), as
/// rectangles whose edges are exactly the given coordinates: horizontal slabs between every
/// pair of consecutive hole edges, each cut where holes cross it.
fn complement(bound: [f32; 4], holes: &[[f32; 4]]) -> Vec<[f32; 4]> {
    let mut ys: Vec<f32> = vec![bound[1], bound[3]];
    for h in holes {
        ys.extend([
            h[1].clamp(bound[1], bound[3]),
            h[3].clamp(bound[1], bound[3]),
        ]);
    }
    ys.sort_by(f32::total_cmp);
    ys.dedup();
    let mut out = Vec::new();
    for w in ys.windows(2) {
        let (ya, yb) = (w[0], w[1]);
        let mut across: Vec<[f32; 2]> = holes
            .iter()
            .filter(|h| h[1] <= ya && h[3] >= yb)
            .map(|h| [h[0], h[2]])
            .collect();
        across.sort_by(|a, b| a[0].total_cmp(&b[0]));
        let mut x = bound[0];
        for [x0, x1] in across {
            if x >= bound[2] {
                break;
            }
            if x0 > x {
                out.push([x, ya, x0.min(bound[2]), yb]);
            }
            x = x.max(x1);
        }
        if x < bound[2] {
            out.push([x, ya, bound[2], yb]);
        }
    }
    out
}

/// A pipeline drawing triangle lists of `vertex` with a shader's `vs_main` and the given fragment
/// entry point into `format`, without multisampling or depth (shapes and text alike).
fn triangle_pipeline(
    device: &wgpu::Device,
    label: &str,
    layout: &wgpu::PipelineLayout,
    (shader, fragment): (&wgpu::ShaderModule, &str),
    vertex: wgpu::VertexBufferLayout<'_>,
    format: wgpu::TextureFormat,
    blend: Option<wgpu::BlendState>,
) -> wgpu::RenderPipeline {
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some(label),
        layout: Some(layout),
        vertex: wgpu::VertexState {
            module: shader,
            entry_point: Some("vs_main"),
            compilation_options: Default::default(),
            buffers: &[Some(vertex)],
        },
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: None,
        multisample: wgpu::MultisampleState::default(),
        fragment: Some(wgpu::FragmentState {
            module: shader,
            entry_point: Some(fragment),
            compilation_options: Default::default(),
            targets: &[Some(wgpu::ColorTargetState {
                format,
                blend,
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        multiview_mask: None,
        cache: None,
    })
}

/// Rectangles of target pixels (`[x0, y0, x1, y1]`, each with an owner) bucketed in square
/// cells, to ask quickly whether anything else touches a rectangle.
#[derive(Default)]
struct Grid {
    cols: i32,
    rows: i32,
    cells: Vec<Vec<u32>>,
    rects: Vec<([i32; 4], usize)>,
}

impl Grid {
    const CELL: i32 = 128;

    /// Empties the grid for a target of `size`, keeping its storage: it is refilled every frame.
    fn reset(&mut self, size: [u32; 2]) {
        self.cols = ((size[0] as i32 + Self::CELL - 1) / Self::CELL).max(1);
        self.rows = ((size[1] as i32 + Self::CELL - 1) / Self::CELL).max(1);
        self.cells
            .resize_with((self.cols * self.rows) as usize, Vec::new);
        self.cells.iter_mut().for_each(Vec::clear);
        self.rects.clear();
    }

    /// The cells a rectangle covers, clamped to the grid.
    fn span(&self, r: [i32; 4]) -> impl Iterator<Item = usize> + use<> {
        let c = |v: i32, n: i32| (v.div_euclid(Self::CELL)).clamp(0, n - 1);
        let (cx0, cy0) = (c(r[0], self.cols), c(r[1], self.rows));
        let (cx1, cy1) = (c(r[2] - 1, self.cols), c(r[3] - 1, self.rows));
        let cols = self.cols;
        (cy0..=cy1).flat_map(move |y| (cx0..=cx1).map(move |x| (y * cols + x) as usize))
    }

    fn insert(&mut self, r: [i32; 4], owner: usize) {
        if r[0] >= r[2] || r[1] >= r[3] {
            return;
        }
        let id = self.rects.len() as u32;
        self.rects.push((r, owner));
        for cell in self.span(r) {
            self.cells[cell].push(id);
        }
    }

    /// Calls `f` with the owner of each rectangle overlapping `r` (once per cell it shares).
    fn each_touching(&self, r: [i32; 4], mut f: impl FnMut(usize)) {
        for cell in self.span(r) {
            for &id in &self.cells[cell] {
                let (o, who) = self.rects[id as usize];
                if o[0] < r[2] && r[0] < o[2] && o[1] < r[3] && r[1] < o[3] {
                    f(who);
                }
            }
        }
    }
}

fn scissor(r: Rect) -> Option<(u32, u32, u32, u32)> {
    let x = r.x.max(0.0).round() as u32;
    let y = r.y.max(0.0).round() as u32;
    let w = (r.x + r.w).round() as i64 - x as i64;
    let h = (r.y + r.h).round() as i64 - y as i64;
    (w > 0 && h > 0).then_some((x, y, w as u32, h as u32))
}

fn wgpu_color(c: Color, srgb_target: bool) -> wgpu::Color {
    if !srgb_target {
        return wgpu::Color {
            r: c.0[0] as f64,
            g: c.0[1] as f64,
            b: c.0[2] as f64,
            a: c.0[3] as f64,
        };
    }
    // Clear colours are linear for sRGB targets.
    let lin = |v: f32| {
        let v = v as f64;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    wgpu::Color {
        r: lin(c.0[0]),
        g: lin(c.0[1]),
        b: lin(c.0[2]),
        a: c.0[3] as f64,
    }
}

/// An RGBA8 image read back from the GPU.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl Image {
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * self.width + x) * 4) as usize;
        [
            self.pixels[i],
            self.pixels[i + 1],
            self.pixels[i + 2],
            self.pixels[i + 3],
        ]
    }

    /// Writes a PNG.
    pub fn write_png(&self, path: &std::path::Path) -> std::io::Result<()> {
        let file = std::fs::File::create(path)?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), self.width, self.height);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Default);
        let mut w = enc.write_header().map_err(std::io::Error::other)?;
        w.write_image_data(&self.pixels)
            .map_err(std::io::Error::other)?;
        w.finish().map_err(std::io::Error::other)
    }

    /// Reads a PNG (RGBA or RGB, 8 bits).
    pub fn read_png(path: &std::path::Path) -> std::io::Result<Image> {
        let file = std::fs::File::open(path)?;
        let mut dec = png::Decoder::new(std::io::BufReader::new(file));
        dec.set_transformations(png::Transformations::EXPAND);
        let mut reader = dec.read_info().map_err(std::io::Error::other)?;
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).map_err(std::io::Error::other)?;
        buf.truncate(info.buffer_size());
        let pixels = match info.color_type {
            png::ColorType::Rgba => buf,
            png::ColorType::Rgb => buf
                .chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect(),
            other => {
                return Err(std::io::Error::other(format!(
                    "unsupported PNG colour type {other:?}"
                )));
            }
        };
        Ok(Image {
            width: info.width,
            height: info.height,
            pixels,
        })
    }
}

/// An offscreen target of a fixed size with its readback buffer.
pub struct Offscreen {
    pub texture: wgpu::Texture,
    pub view: wgpu::TextureView,
    readback: wgpu::Buffer,
    padded_row: u32,
    pub size: [u32; 2],
}

/// Above this share of the screens' area, a partial frame is drawn whole instead.
const WHOLE_FRAME_SHARE: f32 = 0.5;

/// Offscreen targets hold sRGB-encoded bytes in a plain format (see the module doc), in BGRA
/// order as a window's surface does (lavapipe draws into it markedly faster than into RGBA);
/// a capture swaps them to RGBA.
pub const OFFSCREEN_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Bgra8Unorm;

impl Offscreen {
    pub fn new(gpu: &Gpu, size: [u32; 2]) -> Result<Offscreen, RenderError> {
        let max = gpu.device.limits().max_texture_dimension_2d;
        if size[0] > max || size[1] > max || size[0] == 0 || size[1] == 0 {
            return Err(RenderError::TooLarge {
                width: size[0],
                height: size[1],
                max,
            });
        }
        let texture = gpu.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("offscreen frame"),
            size: wgpu::Extent3d {
                width: size[0],
                height: size[1],
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: OFFSCREEN_FORMAT,
            // Copied into (text, see `Renderer::copy_text`) and out of (captures).
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT
                | wgpu::TextureUsages::COPY_SRC
                | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        });
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let (readback, padded_row) = readback_buffer(gpu, size, "frame readback");
        Ok(Offscreen {
            texture,
            view,
            readback,
            padded_row,
            size,
        })
    }

    /// Renders the prepared frame and waits for the GPU (the frame time's GPU part).
    pub fn draw(&self, gpu: &Gpu, renderer: &Renderer) -> Result<(), RenderError> {
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("offscreen frame"),
            });
        renderer.render(&mut encoder, &self.texture);
        submit_and_wait(gpu, encoder)
    }

    /// Renders the prepared frame and reads it back.
    pub fn capture(&self, gpu: &Gpu, renderer: &Renderer) -> Result<Image, RenderError> {
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("offscreen capture"),
            });
        renderer.render(&mut encoder, &self.texture);
        let mut pixels = copy_out(
            gpu,
            encoder,
            &self.texture,
            &self.readback,
            self.padded_row,
            self.size,
        )?;
        bgra_to_rgba(&mut pixels);
        Ok(Image {
            width: self.size[0],
            height: self.size[1],
            pixels,
        })
    }
}

/// Submits `encoder` and waits until the GPU has run it.
fn submit_and_wait(gpu: &Gpu, encoder: wgpu::CommandEncoder) -> Result<(), RenderError> {
    let index = gpu.queue.submit(Some(encoder.finish()));
    gpu.device
        .poll(wgpu::PollType::Wait {
            submission_index: Some(index),
            timeout: Some(Duration::from_secs(60)),
        })
        .map_err(|e| RenderError::Draw(e.to_string()))?;
    Ok(())
}

/// A texture standing in for a window's swapchain image — an offscreen target's size and
/// format, copied into — to time a window's frame where there is no window (benchmarks).
pub struct SwapchainStandIn {
    texture: wgpu::Texture,
}

impl SwapchainStandIn {
    pub fn new(gpu: &Gpu, like: &Offscreen) -> SwapchainStandIn {
        let texture = gpu.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("swapchain image stand-in"),
            size: like.texture.size(),
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: like.texture.format(),
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        });
        SwapchainStandIn { texture }
    }

    /// A window's frame, as `dieuhanh-wall run` draws it ([`Renderer::render_kept`]): the
    /// prepared frame drawn into `kept`, copied here; waits for the GPU.
    pub fn present(
        &self,
        gpu: &Gpu,
        renderer: &Renderer,
        kept: &Offscreen,
    ) -> Result<(), RenderError> {
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("window frame"),
            });
        renderer.render_kept(&mut encoder, &kept.texture, &self.texture);
        submit_and_wait(gpu, encoder)
    }
}

/// Reads back a texture of 8-bit RGBA or BGRA texels (a window's kept frame) as an RGBA image.
pub fn read_texture(gpu: &Gpu, texture: &wgpu::Texture) -> Result<Image, RenderError> {
    let size = [texture.width(), texture.height()];
    let (readback, padded_row) = readback_buffer(gpu, size, "window frame readback");
    let encoder = gpu
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("window capture"),
        });
    let mut pixels = copy_out(gpu, encoder, texture, &readback, padded_row, size)?;
    if matches!(
        texture.format(),
        wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Bgra8UnormSrgb
    ) {
        bgra_to_rgba(&mut pixels);
    }
    Ok(Image {
        width: size[0],
        height: size[1],
        pixels,
    })
}

fn bgra_to_rgba(pixels: &mut [u8]) {
    for px in pixels.chunks_exact_mut(4) {
        px.swap(0, 2);
    }
}

/// A buffer to read back a `size` frame of 4-byte texels into, and its row pitch (rows padded
/// to wgpu's copy alignment).
fn readback_buffer(gpu: &Gpu, size: [u32; 2], label: &str) -> (wgpu::Buffer, u32) {
    let padded_row = (size[0] * 4).next_multiple_of(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT);
    let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: padded_row as u64 * size[1] as u64,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    (buffer, padded_row)
}

/// Copies `texture` into `readback` after what `encoder` holds, waits, and returns the rows
/// without their padding.
fn copy_out(
    gpu: &Gpu,
    mut encoder: wgpu::CommandEncoder,
    texture: &wgpu::Texture,
    readback: &wgpu::Buffer,
    padded_row: u32,
    size: [u32; 2],
) -> Result<Vec<u8>, RenderError> {
    encoder.copy_texture_to_buffer(
        wgpu::TexelCopyTextureInfo {
            texture,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        wgpu::TexelCopyBufferInfo {
            buffer: readback,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(padded_row),
                rows_per_image: Some(size[1]),
            },
        },
        wgpu::Extent3d {
            width: size[0],
            height: size[1],
            depth_or_array_layers: 1,
        },
    );
    gpu.queue.submit(Some(encoder.finish()));
    let slice = readback.slice(..);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    gpu.device
        .poll(wgpu::PollType::Wait {
            submission_index: None,
            timeout: Some(Duration::from_secs(60)),
        })
        .map_err(|e| RenderError::Readback(e.to_string()))?;
    rx.recv()
        .map_err(|e| RenderError::Readback(e.to_string()))?
        .map_err(|e| RenderError::Readback(e.to_string()))?;
    let mut pixels = Vec::with_capacity((size[0] * size[1] * 4) as usize);
    {
        let data = slice
            .get_mapped_range()
            .map_err(|e| RenderError::Readback(e.to_string()))?;
        for row in 0..size[1] as usize {
            let at = row * padded_row as usize;
            pixels.extend_from_slice(&data[at..at + size[0] as usize * 4]);
        }
    }
    readback.unmap();
    Ok(pixels)
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

    use super::*;
    use crate::draw::{TextStyle, theme};
    use crate::render::text::Weight;

    /// A list of `texts`, one per line, at `size` pixels.
    fn lines(shaper: &mut TextShaper, texts: &[String], size: f32) -> DisplayList {
        let mut list = DisplayList::default();
        list.rect(Rect::new(0.0, 0.0, 640.0, 480.0), theme::PANEL);
        for (i, t) in texts.iter().enumerate() {
            let style = TextStyle::new(size, Weight::Regular, theme::TEXT);
            list.text(shaper, t, 8.0, 4.0 + i as f32 * size * 1.3, style, None);
        }
        list
    }

    /// `list` drawn whole by `r` on a 640×480 target, read back.
    pub(crate) fn draw(
        gpu: &Gpu,
        r: &mut Renderer,
        shaper: &mut TextShaper,
        list: &DisplayList,
    ) -> Image {
        let screens = [ScreenMap {
            canvas: Rect::new(0.0, 0.0, 640.0, 480.0),
            target: Rect::new(0.0, 0.0, 640.0, 480.0),
        }];
        r.invalidate();
        r.prepare(gpu, shaper, list, theme::BACKGROUND, &screens, [640, 480])
            .unwrap();
        let image = Offscreen::new(gpu, [640, 480])
            .unwrap()
            .capture(gpu, r)
            .unwrap();
        r.trim();
        image
    }

    /// A frame drawn whole comes out the same whether the target is filled by copying the
    /// strip of its clear colour down it or cleared by the render pass: the panels' colour under
    /// them, the wall's background between them, their text over them, down to the last rows
    /// (480 is not a multiple of the strip's 64).
    #[test]
    fn a_target_filled_by_copies_equals_one_cleared_by_the_pass() {
        let gpu = Gpu::headless().expect("a Vulkan adapter (lavapipe in CI)");
        let mut shaper = TextShaper::new();
        let mut list = DisplayList::default();
        for (i, r) in [
            Rect::new(16.0, 16.0, 400.0, 300.0),
            Rect::new(432.0, 16.0, 192.0, 448.0),
        ]
        .into_iter()
        .enumerate()
        {
            list.begin_panel(r);
            list.rect(r, theme::PANEL);
            let style = TextStyle::new(32.0, Weight::Bold, theme::TEXT);
            list.text(
                &mut shaper,
                &format!("Tỉnh {i}: 1.234,5"),
                r.x + 8.0,
                r.y + 8.0,
                style,
                None,
            );
            list.end_panel();
        }
        let mut images = Vec::new();
        for by_copy in [true, false] {
            let mut r = Renderer::new(&gpu, OFFSCREEN_FORMAT);
            r.fill_by_copy = by_copy;
            images.push(draw(&gpu, &mut r, &mut shaper, &list));
            assert_eq!(
                r.fill_strip.is_some(),
                by_copy,
                "the strip is made only to be copied"
            );
        }
        let [copied, cleared] = &images[..] else {
            unreachable!()
        };
        assert_eq!(
            copied.pixel(420, 479),
            theme::BACKGROUND.to_rgba8(),
            "between the panels"
        );
        assert_eq!(
            copied.pixel(500, 470),
            theme::BACKGROUND.to_rgba8(),
            "below a panel"
        );
        assert_eq!(
            copied.pixel(300, 250),
            theme::PANEL.to_rgba8(),
            "in a panel"
        );
        let differing = copied
            .pixels
            .chunks_exact(4)
            .zip(cleared.pixels.chunks_exact(4))
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            differing, 0,
            "pixels differ between the filled and the cleared frame"
        );
    }

    /// A window whose surface offers only an sRGB format still draws the wall's colours and
    /// text: solid fills and the text's fully inked pixels come out as on a plain target (the
    /// hardware encodes what the shaders give in linear terms); only antialiased edges differ,
    /// blended in linear rather than sRGB space.
    #[test]
    fn an_srgb_target_draws_the_same_colours_and_text() {
        let gpu = Gpu::headless().expect("a Vulkan adapter (lavapipe in CI)");
        let mut shaper = TextShaper::new();
        let list = lines(
            &mut shaper,
            &["Tổng thu ngân sách: 1.234.567,8 tỷ đồng".into()],
            40.0,
        );
        let plain = draw(
            &gpu,
            &mut Renderer::new(&gpu, OFFSCREEN_FORMAT),
            &mut shaper,
            &list,
        );
        let format = wgpu::TextureFormat::Rgba8UnormSrgb;
        let mut r = Renderer::new(&gpu, format);
        let screens = [ScreenMap {
            canvas: Rect::new(0.0, 0.0, 640.0, 480.0),
            target: Rect::new(0.0, 0.0, 640.0, 480.0),
        }];
        r.prepare(
            &gpu,
            &mut shaper,
            &list,
            theme::BACKGROUND,
            &screens,
            [640, 480],
        )
        .unwrap();
        let texture = gpu.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("srgb target"),
            size: wgpu::Extent3d {
                width: 640,
                height: 480,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        r.render(&mut encoder, &texture);
        gpu.queue.submit(Some(encoder.finish()));
        let srgb = read_texture(&gpu, &texture).unwrap();

        let text = theme::TEXT.to_rgba8();
        let panel = theme::PANEL.to_rgba8();
        let near = |a: &[u8], b: [u8; 4]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 2);
        let mut inked = 0;
        for (p, q) in plain
            .pixels
            .chunks_exact(4)
            .zip(srgb.pixels.chunks_exact(4))
        {
            // Exactly the colour on the plain target: a fill, or text fully inked (an edge
            // pixel near the panel's colour comes out brighter when blended in linear space).
            for colour in [text, panel] {
                if p == colour {
                    assert!(near(q, colour), "{q:?} where the plain target has {p:?}");
                }
            }
            inked += usize::from(p == text);
        }
        assert!(
            inked > 2_000,
            "the text is drawn ({inked} fully inked pixels)"
        );
    }

    /// A long-running wall draws far more distinct text than its atlas holds: runs no longer
    /// drawn give their space back, a frame that needs more than the atlas grows it, and the
    /// same text draws the same pixels before and after.
    #[test]
    fn text_draws_the_same_after_its_atlas_filled_evicted_and_grew() {
        let gpu = Gpu::headless().expect("a Vulkan adapter (lavapipe in CI)");
        let mut shaper = TextShaper::new();
        let mut r = Renderer::new(&gpu, OFFSCREEN_FORMAT);
        r.text.set_side(&gpu.device, 256);
        let first: Vec<String> = vec!["Tổng thu ngân sách: 1.234.567,8 tỷ đồng".into()];
        let a = lines(&mut shaper, &first, 24.0);
        let before = draw(&gpu, &mut r, &mut shaper, &a);
        let ink = before.pixels.chunks_exact(4).filter(|p| p[0] > 128).count();
        assert!(ink > 500, "the text is drawn ({ink} light pixels)");
        // Forty frames of new figures: ~15 times what a 256-pixel atlas holds.
        for k in 0..40 {
            let texts = vec![format!(
                "Số liệu mới {k}: {},{} tỷ đồng",
                1000 + 37 * k,
                k % 10
            )];
            let list = lines(&mut shaper, &texts, 40.0);
            draw(&gpu, &mut r, &mut shaper, &list);
        }
        assert_eq!(r.text.side(), 256, "evicting was enough so far");
        // One frame whose text alone overflows the atlas.
        let many: Vec<String> = (0..14)
            .map(|k| format!("Dòng {k}: Thành phố Hồ Chí Minh, Hà Nội, Đà Nẵng"))
            .collect();
        let list = lines(&mut shaper, &many, 24.0);
        let crowded = draw(&gpu, &mut r, &mut shaper, &list);
        assert!(r.text.side() > 256, "the atlas grew");
        let fresh = draw(
            &gpu,
            &mut Renderer::new(&gpu, OFFSCREEN_FORMAT),
            &mut shaper,
            &list,
        );
        assert!(
            crowded.pixels == fresh.pixels,
            "the crowded frame as a fresh renderer draws it"
        );
        let after = draw(&gpu, &mut r, &mut shaper, &a);
        assert!(
            before.pixels == after.pixels,
            "the first text draws the same pixels again"
        );
    }

    /// The space outside the panels is covered exactly once, with the panels' own edges.
    #[test]
    fn the_complement_of_panels_tiles_the_rest_of_the_canvas() {
        let bound = [0.0, 0.0, 100.0, 60.0];
        let holes = [
            [10.0, 10.0, 40.0, 50.0],
            [40.0, 10.0, 90.0, 30.0],
            [45.5, 35.25, 90.0, 50.0],
        ];
        let rest = complement(bound, &holes);
        let area = |r: &[f32; 4]| (r[2] - r[0]) * (r[3] - r[1]);
        let total: f32 = rest.iter().map(area).sum::<f32>() + holes.iter().map(area).sum::<f32>();
        assert_eq!(total, area(&bound));
        for r in &rest {
            assert!(r[0] < r[2] && r[1] < r[3], "{r:?} is empty");
            for h in &holes {
                let overlap = r[0] < h[2] && h[0] < r[2] && r[1] < h[3] && h[1] < r[3];
                assert!(!overlap, "{r:?} overlaps the panel {h:?}");
            }
        }
        for r in &rest {
            for x in r.iter() {
                let edge = bound.contains(x) || holes.iter().any(|h| h.contains(x));
                assert!(edge, "{x} in {r:?} is not an edge of the canvas or a panel");
            }
        }
    }

    /// A partial frame's backdrop: the complement within one damaged panel's place, the other
    /// panels lying left and right of it, one across its edge and one beyond that. Nothing
    /// reaches outside the place: a quad there is drawn inside the other damaged places'
    /// scissors too, under their panels (an inverted one, right edge left of its left, covered
    /// most of a damaged row of tiles and cost a second fill of it).
    #[test]
    fn the_complement_stays_inside_its_bound() {
        let bound = [100.0, 0.0, 200.0, 60.0];
        let holes = [
            [0.0, 0.0, 90.0, 60.0],
            [120.0, 10.0, 150.0, 50.0],
            [190.0, 0.0, 400.0, 60.0],
            [410.0, 0.0, 500.0, 60.0],
        ];
        let rest = complement(bound, &holes);
        let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
        let clipped = |h: &[f32; 4]| {
            area(&[
                h[0].max(bound[0]),
                h[1].max(bound[1]),
                h[2].min(bound[2]),
                h[3].min(bound[3]),
            ])
        };
        for r in &rest {
            assert!(r[0] < r[2] && r[1] < r[3], "{r:?} is empty or inverted");
            let within =
                r[0] >= bound[0] && r[1] >= bound[1] && r[2] <= bound[2] && r[3] <= bound[3];
            assert!(within, "{r:?} reaches outside {bound:?}");
        }
        let holes_inside: f32 = holes.iter().map(clipped).sum();
        let total: f32 = rest.iter().map(area).sum();
        assert_eq!(total, area(&bound) - holes_inside);
    }
}
