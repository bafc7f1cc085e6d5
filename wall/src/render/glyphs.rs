//! The text pass: every text run placed on the target is rasterised once — glyph by glyph with
//! cosmic-text's swash rasteriser, each glyph where glyphon would put it — into one image in a
//! BGRA atlas, already in the run's colour and premultiplied, and drawn as one quad (clipped to
//! its bounds) per place it shows. A run the renderer finds on one flat colour
//! ([`TextArea::over`]) is made over that colour instead and its pieces are copied into the
//! target ([`TextCopy`]), not drawn. Whether a run lies on one colour is judged by its ink
//! ([`TextPass::ink`]), not its line box: the lines of a tile, set close, overlap by their
//! boxes and not by their letters. A copied run is cut into wide pieces (one copy command
//! each); a drawn one into narrow strips trimmed to their ink.
//!
//! Why not glyphon's renderer: measured on lavapipe at 7680×3240, the national overview's
//! ~2,400 glyphs took ~20 ms a full frame as glyphon's one instance per glyph and take 14–16 ms
//! as ~1,800 strips of one quad each, trimmed to their ink, in one plain draw. What lavapipe
//! charges for is blended pixels (5–6 ns each here; 4,800 tiny triangles cost 0.5 ms). Why the
//! colour is in the atlas: the fragment shader is then one texel read, with no colour to
//! interpolate or multiply per pixel (a full frame about 10 % faster, for four bytes a texel
//! instead of one). A run is cached by its text, size, weight, colour and exact place, so a
//! still wall rasterises nothing; no widget animates a text's colour.

use bytemuck::{Pod, Zeroable};
use etagere::{AllocId, AtlasAllocator, size2};
use glyphon::cosmic_text::{CacheKey, CacheKeyFlags};
use glyphon::{Buffer, FontSystem, SwashCache, SwashContent};
use rustc_hash::FxHashMap;

use super::RenderError;
use super::text::TextKey;

/// Tallest atlas piece (a run of many lines is cut).
const PIECE: i32 = 1024;
/// Width of the strips a run's image is cut into.
const STRIP: i32 = 32;
/// Glyphs this large (target pixels) are rasterised without TrueType hinting: its interpreter
/// was ~80 % of the time a new glyph took, and at this size a stem snapped to the pixel grid no
/// longer shows. Smaller text (labels, the scaled-down conference feed) keeps it.
const UNHINTED_FROM_PX: f32 = 32.0;
/// Rasterised glyphs kept by the swash cache before it is emptied (memory stays bounded).
const GLYPH_CACHE_MAX: usize = 8192;

/// The smallest rectangle of `area` (`[x0, y0, x1, y1]`) holding every non-zero pixel of an
/// image `w` pixels wide; `None` when there is none.
fn inked(coverage: &[u8], w: i32, area: [i32; 4]) -> Option<[i32; 4]> {
    let [x0, y0, x1, y1] = area;
    let mut out: Option<[i32; 4]> = None;
    for y in y0..y1 {
        let row = &coverage[(y * w + x0) as usize..(y * w + x1) as usize];
        let Some(first) = row.iter().position(|&c| c != 0) else {
            continue;
        };
        let last = row.iter().rposition(|&c| c != 0).unwrap_or(first);
        let (a, b) = (x0 + first as i32, x0 + last as i32 + 1);
        out = Some(match out {
            None => [a, y, b, y + 1],
            Some([ox0, oy0, ox1, _]) => [ox0.min(a), oy0, ox1.max(b), y + 1],
        });
    }
    out
}

/// Where each of a run's glyph images goes in the target, as glyphon computes it: the pen
/// position rounded to a pixel (the rest is the glyph's subpixel bin), then the image's own
/// offset. Fills `glyphs` (cache key, left, top) and returns the images' bounding box, `None`
/// when no glyph has an image (spaces only).
fn place_glyphs(
    fonts: &mut FontSystem,
    swash: &mut SwashCache,
    area: &TextArea<'_>,
    glyphs: &mut Vec<(CacheKey, i32, i32)>,
) -> Option<[i32; 4]> {
    glyphs.clear();
    let (mut x0, mut y0, mut x1, mut y1) = (i32::MAX, i32::MAX, i32::MIN, i32::MIN);
    for run in area.buffer.layout_runs() {
        let line_y = (run.line_y * area.scale).round() as i32;
        for glyph in run.glyphs {
            let mut physical = glyph.physical((area.left, area.top), area.scale);
            if f32::from_bits(physical.cache_key.font_size_bits) >= UNHINTED_FROM_PX {
                physical.cache_key.flags |= CacheKeyFlags::DISABLE_HINTING;
            }
            let Some(image) = swash.get_image(fonts, physical.cache_key) else {
                continue;
            };
            let (w, h) = (image.placement.width as i32, image.placement.height as i32);
            if w == 0 || h == 0 {
                continue;
            }
            let x = physical.x + image.placement.left;
            let y = line_y + physical.y - image.placement.top;
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x + w);
            y1 = y1.max(y + h);
            glyphs.push((physical.cache_key, x, y));
        }
    }
    (!glyphs.is_empty()).then_some([x0, y0, x1, y1])
}

/// The atlas holds each run's pixels in its colour, premultiplied (or made over a background,
/// see [`TextArea::over`]), in the byte order of the wall's targets so that pieces can be
/// copied into them.
pub const ATLAS_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Bgra8Unorm;

/// The atlas texel (BGRA) of each coverage value for a straight sRGB `color`: premultiplied by
/// the colour's alpha times the coverage.
fn tints(color: [u8; 4]) -> [[u8; 4]; 256] {
    let [r, g, b, a] = color.map(u32::from);
    std::array::from_fn(|c| {
        let alpha = (a * c as u32 + 127) / 255;
        let pre = |v: u32| ((v * alpha + 127) / 255) as u8;
        [pre(b), pre(g), pre(r), alpha as u8]
    })
}

/// The atlas texel (BGRA) of each coverage value for `color` blended over the opaque `over`,
/// as the text pipeline's premultiplied blending would write it on a plain target.
fn composited(color: [u8; 4], over: [u8; 4]) -> [[u8; 4]; 256] {
    let [ob, og, or] = [over[2], over[1], over[0]].map(u32::from);
    tints(color).map(|[b, g, r, a]| {
        let rest = 255 - u32::from(a);
        let mix = |v: u8, o: u32| (u32::from(v) + (o * rest + 127) / 255).min(255) as u8;
        [mix(b, ob), mix(g, og), mix(r, or), 255]
    })
}

/// A text run to draw: its shaped buffer, where it goes in target pixels, its colour, and the
/// part of the target it may touch.
pub struct TextArea<'a> {
    /// Which of the display list's text runs this is (a run on two screens is two areas).
    pub run: usize,
    pub buffer: &'a Buffer,
    pub key: &'a TextKey,
    /// Top-left of the run's box, target pixels.
    pub left: f32,
    pub top: f32,
    /// Target pixels per canvas pixel.
    pub scale: f32,
    /// Left, top, right, bottom, target pixels.
    pub bounds: [i32; 4],
    /// Straight sRGB colour.
    pub color: [u8; 4],
    /// The opaque colour (sRGB, RGBA) under every pixel of `bounds`, with nothing else drawn
    /// there: the run's image is then made over it and copied into the target, not blended (a
    /// software rasteriser shades each blended pixel; a copy is a memory move).
    pub over: Option<[u8; 4]>,
}

/// A piece of text copied into the target: from the atlas at `src` to `dst`, `size` pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextCopy {
    pub src: [u32; 2],
    pub dst: [u32; 2],
    pub size: [u32; 2],
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RunKey {
    text: TextKey,
    left: u32,
    top: u32,
    scale: u32,
    color: [u8; 4],
    over: Option<[u8; 4]>,
}

/// A piece of a run's image: where it is in the atlas and in the target.
struct Piece {
    alloc: AllocId,
    atlas: [i32; 2],
    pos: [i32; 2],
    size: [i32; 2],
}

struct Entry {
    pieces: Vec<Piece>,
    /// The last frame that drew it.
    frame: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
struct TextVertex {
    position: [f32; 2],
    /// Atlas texel coordinates.
    texel: [f32; 2],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
struct Params {
    target_size: [f32; 2],
    _pad: [f32; 2],
}

/// Why a frame's text did not fit the atlas.
struct Full;

/// The text pipeline, its atlas of run images and the frame's quads.
pub struct TextPass {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    params: wgpu::Buffer,
    atlas: wgpu::Texture,
    bind: wgpu::BindGroup,
    side: u32,
    max_side: u32,
    alloc: AtlasAllocator,
    entries: FxHashMap<RunKey, Entry>,
    frame: u64,
    vertices: Vec<TextVertex>,
    /// The frame's pieces copied rather than drawn.
    copies: Vec<TextCopy>,
    buffer: Option<wgpu::Buffer>,
    /// Each run's glyph images' bounding box by place ([`Self::ink`]), with the last frame
    /// that asked.
    inks: FxHashMap<InkKey, (Option<[i32; 4]>, u64)>,
    glyphs: Vec<(CacheKey, i32, i32)>,
}

/// A run at a place, whatever its colour.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct InkKey {
    text: TextKey,
    left: u32,
    top: u32,
    scale: u32,
}

impl TextPass {
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat) -> TextPass {
        let shader = device.create_shader_module(wgpu::include_wgsl!("../../shaders/text.wgsl"));
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("text"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::VERTEX,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: wgpu::BufferSize::new(
                            std::mem::size_of::<Params>() as u64
                        ),
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: false },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("text"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = super::triangle_pipeline(
            device,
            "text",
            &pipeline_layout,
            (
                &shader,
                if format.is_srgb() {
                    "fs_srgb"
                } else {
                    "fs_main"
                },
            ),
            wgpu::VertexBufferLayout {
                array_stride: std::mem::size_of::<TextVertex>() as u64,
                step_mode: wgpu::VertexStepMode::Vertex,
                attributes: &wgpu::vertex_attr_array![0 => Float32x2, 1 => Float32x2],
            },
            format,
            Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
        );
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("text params"),
            size: std::mem::size_of::<Params>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let max_side = device.limits().max_texture_dimension_2d.min(8192);
        let side = 2048.min(max_side);
        let (atlas, bind) = Self::atlas(device, &layout, &params, side);
        TextPass {
            pipeline,
            layout,
            params,
            atlas,
            bind,
            side,
            max_side,
            alloc: AtlasAllocator::new(size2(side as i32, side as i32)),
            entries: FxHashMap::default(),
            frame: 0,
            vertices: Vec::new(),
            copies: Vec::new(),
            buffer: None,
            inks: FxHashMap::default(),
            glyphs: Vec::new(),
        }
    }

    fn atlas(
        device: &wgpu::Device,
        layout: &wgpu::BindGroupLayout,
        params: &wgpu::Buffer,
        side: u32,
    ) -> (wgpu::Texture, wgpu::BindGroup) {
        let atlas = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("text atlas"),
            size: wgpu::Extent3d {
                width: side,
                height: side,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: ATLAS_FORMAT,
            usage: wgpu::TextureUsages::TEXTURE_BINDING
                | wgpu::TextureUsages::COPY_DST
                | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let view = atlas.create_view(&wgpu::TextureViewDescriptor::default());
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("text"),
            layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(&view),
                },
            ],
        });
        (atlas, bind)
    }

    /// Starts over on an empty atlas of `side` pixels.
    pub(super) fn set_side(&mut self, device: &wgpu::Device, side: u32) {
        self.side = side;
        let (atlas, bind) = Self::atlas(device, &self.layout, &self.params, side);
        self.atlas = atlas;
        self.bind = bind;
        self.alloc = AtlasAllocator::new(size2(side as i32, side as i32));
        self.entries.clear();
    }

    /// The atlas's side in pixels.
    #[cfg(test)]
    pub(super) fn side(&self) -> u32 {
        self.side
    }

    /// The rectangle of the target (within `area.bounds`) that the run can ink: its glyph
    /// images' bounding box. `None` when it inks nothing there. A line's box is taller than its
    /// letters, so boxes of lines set close touch where their ink does not.
    pub fn ink(
        &mut self,
        fonts: &mut FontSystem,
        swash: &mut SwashCache,
        area: &TextArea<'_>,
    ) -> Option<[i32; 4]> {
        let key = InkKey {
            text: area.key.clone(),
            left: area.left.to_bits(),
            top: area.top.to_bits(),
            scale: area.scale.to_bits(),
        };
        // Asked before the frame is prepared: it is the coming frame's.
        let frame = self.frame + 1;
        let images = match self.inks.get_mut(&key) {
            Some((images, asked)) => {
                *asked = frame;
                *images
            }
            None => {
                let images = place_glyphs(fonts, swash, area, &mut self.glyphs);
                self.inks.insert(key, (images, frame));
                images
            }
        };
        let [x0, y0, x1, y1] = images?;
        let [l, t, r, b] = area.bounds;
        let ink = [x0.max(l), y0.max(t), x1.min(r), y1.min(b)];
        (ink[0] < ink[2] && ink[1] < ink[3]).then_some(ink)
    }

    /// Rasterises the runs not in the atlas yet and builds the frame's quads.
    pub fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        fonts: &mut FontSystem,
        swash: &mut SwashCache,
        areas: &[TextArea<'_>],
        target_size: [u32; 2],
    ) -> Result<(), RenderError> {
        self.frame += 1;
        queue.write_buffer(
            &self.params,
            0,
            bytemuck::bytes_of(&Params {
                target_size: [target_size[0] as f32, target_size[1] as f32],
                _pad: [0.0; 2],
            }),
        );
        loop {
            match self.place(queue, fonts, swash, areas, target_size) {
                Ok(()) => break,
                // This frame's runs alone overflow the atlas: start again on a larger one.
                Err(Full) if self.side < self.max_side => {
                    self.set_side(device, (self.side * 2).min(self.max_side));
                }
                Err(Full) => {
                    return Err(RenderError::Text(format!(
                        "the text of one frame does not fit a {0}×{0} atlas",
                        self.side
                    )));
                }
            }
        }
        // Places asked about before this frame are forgotten once they outnumber its runs
        // (while a figure counts up, every frame has new ones).
        if self.inks.len() > 2 * areas.len() + 256 {
            let frame = self.frame;
            self.inks.retain(|_, (_, asked)| *asked >= frame);
        }
        let bytes: &[u8] = bytemuck::cast_slice(&self.vertices);
        if bytes.is_empty() {
            return Ok(());
        }
        match &self.buffer {
            Some(b) if b.size() >= bytes.len() as u64 => queue.write_buffer(b, 0, bytes),
            _ => {
                let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("text vertices"),
                    size: (bytes.len() as u64 * 3 / 2)
                        .next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT),
                    usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                queue.write_buffer(&buffer, 0, bytes);
                self.buffer = Some(buffer);
            }
        }
        Ok(())
    }

    fn place(
        &mut self,
        queue: &wgpu::Queue,
        fonts: &mut FontSystem,
        swash: &mut SwashCache,
        areas: &[TextArea<'_>],
        target_size: [u32; 2],
    ) -> Result<(), Full> {
        self.vertices.clear();
        self.copies.clear();
        for area in areas {
            let key = RunKey {
                text: area.key.clone(),
                left: area.left.to_bits(),
                top: area.top.to_bits(),
                scale: area.scale.to_bits(),
                color: area.color,
                over: area.over,
            };
            if !self.entries.contains_key(&key) {
                let pieces = self.rasterise(queue, fonts, swash, area)?;
                self.entries.insert(
                    key.clone(),
                    Entry {
                        pieces,
                        frame: self.frame,
                    },
                );
            }
            let Some(entry) = self.entries.get_mut(&key) else {
                continue;
            };
            entry.frame = self.frame;
            let [l, t, r, b] = area.bounds;
            let (l, t) = (l.max(0), t.max(0));
            let (r, b) = (r.min(target_size[0] as i32), b.min(target_size[1] as i32));
            for p in &entry.pieces {
                let x0 = p.pos[0].max(l);
                let y0 = p.pos[1].max(t);
                let x1 = (p.pos[0] + p.size[0]).min(r);
                let y1 = (p.pos[1] + p.size[1]).min(b);
                if x0 >= x1 || y0 >= y1 {
                    continue;
                }
                if area.over.is_some() {
                    self.copies.push(TextCopy {
                        src: [
                            (p.atlas[0] + x0 - p.pos[0]) as u32,
                            (p.atlas[1] + y0 - p.pos[1]) as u32,
                        ],
                        dst: [x0 as u32, y0 as u32],
                        size: [(x1 - x0) as u32, (y1 - y0) as u32],
                    });
                    continue;
                }
                let u0 = (p.atlas[0] + x0 - p.pos[0]) as f32;
                let v0 = (p.atlas[1] + y0 - p.pos[1]) as f32;
                let (u1, v1) = (u0 + (x1 - x0) as f32, v0 + (y1 - y0) as f32);
                let (x0, y0, x1, y1) = (x0 as f32, y0 as f32, x1 as f32, y1 as f32);
                for (position, texel) in [
                    ([x0, y0], [u0, v0]),
                    ([x1, y0], [u1, v0]),
                    ([x1, y1], [u1, v1]),
                    ([x0, y0], [u0, v0]),
                    ([x1, y1], [u1, v1]),
                    ([x0, y1], [u0, v1]),
                ] {
                    self.vertices.push(TextVertex { position, texel });
                }
            }
        }
        Ok(())
    }

    /// Draws a run into a coverage image and uploads it in pieces.
    fn rasterise(
        &mut self,
        queue: &wgpu::Queue,
        fonts: &mut FontSystem,
        swash: &mut SwashCache,
        area: &TextArea<'_>,
    ) -> Result<Vec<Piece>, Full> {
        let mut glyphs = Vec::new();
        let Some([x0, y0, x1, y1]) = place_glyphs(fonts, swash, area, &mut glyphs) else {
            return Ok(Vec::new());
        };
        let (w, h) = (x1 - x0, y1 - y0);
        let mut coverage = vec![0u8; (w * h) as usize];
        for (cache_key, gx, gy) in glyphs {
            let Some(Some(image)) = swash.image_cache.get(&cache_key) else {
                continue;
            };
            let (iw, ih) = (
                image.placement.width as usize,
                image.placement.height as usize,
            );
            // Masks have one byte a pixel; colour glyphs four, of which the alpha is used.
            let (stride, channel) = match image.content {
                SwashContent::Mask => (1, 0),
                SwashContent::Color => (4, 3),
                SwashContent::SubpixelMask => (4, 1),
            };
            if image.data.len() < iw * ih * stride {
                continue;
            }
            for row in 0..ih {
                let dst = ((gy - y0) as usize + row) * w as usize + (gx - x0) as usize;
                for col in 0..iw {
                    let a = image.data[(row * iw + col) * stride + channel] as u32;
                    let d = &mut coverage[dst + col];
                    // Overlapping glyphs (a mark over its letter) combine as two coverages
                    // drawn over each other in the same colour would.
                    let b = *d as u32;
                    *d = (a + b - (a * b + 127) / 255) as u8;
                }
            }
        }

        // Each coverage value's texel as a whole: one table read and one four-byte store a pixel.
        let tinted = match area.over {
            Some(over) => composited(area.color, over),
            None => tints(area.color),
        }
        .map(u32::from_ne_bytes);
        let mut data: Vec<u32> = Vec::new();
        // Narrow strips, each trimmed to its inked pixels: the space above short letters, below
        // the baseline and between words is not blended at all (a software rasteriser pays for
        // every blended pixel, inked or not).
        let mut pieces: Vec<Piece> = Vec::new();
        // A copied run's pieces are as wide as packing them allows: its background is in
        // them, and each copy is a command of its own.
        let strip = match area.over {
            Some(_) => (self.side as i32 / 4).clamp(STRIP, PIECE),
            None => STRIP,
        };
        for py in (0..h).step_by(PIECE as usize) {
            for px in (0..w).step_by(strip as usize) {
                let (cw, ch) = ((w - px).min(strip), (h - py).min(PIECE));
                let Some([tx0, ty0, tx1, ty1]) = inked(&coverage, w, [px, py, px + cw, py + ch])
                else {
                    continue;
                };
                let (px, py, pw, ph) = (tx0, ty0, tx1 - tx0, ty1 - ty0);
                let alloc = match self.alloc.allocate(size2(pw, ph)) {
                    Some(a) => a,
                    None => {
                        self.evict_stale();
                        match self.alloc.allocate(size2(pw, ph)) {
                            Some(a) => a,
                            None => {
                                for p in &pieces {
                                    self.alloc.deallocate(p.alloc);
                                }
                                return Err(Full);
                            }
                        }
                    }
                };
                let at = alloc.rectangle.min;
                data.clear();
                for row in py..py + ph {
                    let start = (row * w + px) as usize;
                    let line = &coverage[start..start + pw as usize];
                    data.extend(line.iter().map(|&c| tinted[c as usize]));
                }
                queue.write_texture(
                    wgpu::TexelCopyTextureInfo {
                        texture: &self.atlas,
                        mip_level: 0,
                        origin: wgpu::Origin3d {
                            x: at.x as u32,
                            y: at.y as u32,
                            z: 0,
                        },
                        aspect: wgpu::TextureAspect::All,
                    },
                    bytemuck::cast_slice(&data),
                    wgpu::TexelCopyBufferLayout {
                        offset: 0,
                        bytes_per_row: Some(pw as u32 * 4),
                        rows_per_image: None,
                    },
                    wgpu::Extent3d {
                        width: pw as u32,
                        height: ph as u32,
                        depth_or_array_layers: 1,
                    },
                );
                pieces.push(Piece {
                    alloc: alloc.id,
                    atlas: [at.x, at.y],
                    pos: [x0 + px, y0 + py],
                    size: [pw, ph],
                });
            }
        }
        Ok(pieces)
    }

    /// Frees the atlas space of runs the current frame has not drawn.
    fn evict_stale(&mut self) {
        let frame = self.frame;
        let alloc = &mut self.alloc;
        self.entries.retain(|_, e| {
            if e.frame == frame {
                return true;
            }
            for p in &e.pieces {
                alloc.deallocate(p.alloc);
            }
            false
        });
    }

    /// Empties the glyph image cache once it holds more than a wall's worth of glyphs.
    pub fn trim(swash: &mut SwashCache) {
        if swash.image_cache.len() > GLYPH_CACHE_MAX {
            swash.image_cache.clear();
        }
    }

    /// The frame's pieces to copy into the target, from [`Self::atlas_texture`].
    pub fn copies(&self) -> &[TextCopy] {
        &self.copies
    }

    /// How many pieces of the frame's text are drawn.
    pub fn quads(&self) -> usize {
        self.vertices.len() / 6
    }

    pub fn atlas_texture(&self) -> &wgpu::Texture {
        &self.atlas
    }

    /// Draws the frame's text (the caller sets the scissor).
    pub fn render(&self, pass: &mut wgpu::RenderPass<'_>) {
        let Some(buffer) = &self.buffer else {
            return;
        };
        if self.vertices.is_empty() {
            return;
        }
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind, &[]);
        pass.set_vertex_buffer(0, buffer.slice(..));
        pass.draw(0..self.vertices.len() as u32, 0..1);
    }
}
