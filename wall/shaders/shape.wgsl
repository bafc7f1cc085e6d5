// Solid shapes of the wall (panel backgrounds, bars, lines, arrows, sparklines): triangles in
// canvas pixels with a straight (non-premultiplied) sRGB colour per vertex.
//
// The canvas is the whole physical wall including the strips hidden under bezels; each screen is
// drawn by moving its part of the canvas to where the screen sits in the target (and scaling, for
// the conference feed), so lines stay straight across bezels.

struct Screen {
    // Top-left of the screen's part of the canvas, in canvas pixels.
    canvas_origin: vec2<f32>,
    // Where that corner lands in the target, in target pixels.
    target_origin: vec2<f32>,
    // Target size in pixels.
    target_size: vec2<f32>,
    // Target pixels per canvas pixel.
    scale: f32,
    // 1 when the target is an sRGB format (the hardware encodes on write), else 0.
    srgb_target: f32,
};

@group(0) @binding(0) var<uniform> screen: Screen;

struct VertexIn {
    @location(0) position: vec2<f32>,
    @location(1) color: vec4<f32>,
};

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    // Every shape is one colour a triangle: flat, the rasteriser neither interpolates it per
    // pixel nor rounds it differently from one triangle to the next.
    @location(0) @interpolate(flat) color: vec4<f32>,
};

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let low = c / 12.92;
    let high = pow((c + 0.055) / 1.055, vec3<f32>(2.4));
    return select(high, low, c <= vec3<f32>(0.04045));
}

@vertex
fn vs_main(v: VertexIn) -> VertexOut {
    let p = (v.position - screen.canvas_origin) * screen.scale + screen.target_origin;
    let ndc = vec2<f32>(p.x / screen.target_size.x * 2.0 - 1.0, 1.0 - p.y / screen.target_size.y * 2.0);
    var out: VertexOut;
    out.position = vec4<f32>(ndc, 0.0, 1.0);
    // Plain targets take sRGB values as they are (blending in sRGB space, as browsers do); an sRGB
    // target expects linear values and encodes them itself.
    var rgb = v.color.rgb;
    if (screen.srgb_target > 0.5) {
        rgb = srgb_to_linear(rgb);
    }
    out.color = vec4<f32>(rgb, v.color.a);
    return out;
}

@fragment
fn fs_main(v: VertexOut) -> @location(0) vec4<f32> {
    return v.color;
}
