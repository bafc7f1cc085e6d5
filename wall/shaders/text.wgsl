// Text of the wall: each text run is one coverage image in an R8 atlas (see render/glyphs.rs),
// drawn as a quad in target pixels with a straight (non-premultiplied) sRGB colour. The quad maps
// target pixels one to one onto atlas texels, so the texel is read as it is, unfiltered.

struct Params {
    // Target size in pixels.
    target_size: vec2<f32>,
    // 1 when the target is an sRGB format (the hardware encodes on write), else 0.
    srgb_target: f32,
    _pad: f32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var atlas: texture_2d<f32>;

struct VertexIn {
    @location(0) position: vec2<f32>,
    @location(1) texel: vec2<f32>,
    @location(2) color: vec4<f32>,
};

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    @location(0) texel: vec2<f32>,
    @location(1) color: vec4<f32>,
};

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let low = c / 12.92;
    let high = pow((c + 0.055) / 1.055, vec3<f32>(2.4));
    return select(high, low, c <= vec3<f32>(0.04045));
}

@vertex
fn vs_main(v: VertexIn) -> VertexOut {
    let p = v.position;
    var out: VertexOut;
    out.position = vec4<f32>(
        p.x / params.target_size.x * 2.0 - 1.0,
        1.0 - p.y / params.target_size.y * 2.0,
        0.0,
        1.0,
    );
    out.texel = v.texel;
    var rgb = v.color.rgb;
    if (params.srgb_target > 0.5) {
        rgb = srgb_to_linear(rgb);
    }
    out.color = vec4<f32>(rgb, v.color.a);
    return out;
}

@fragment
fn fs_main(v: VertexOut) -> @location(0) vec4<f32> {
    // At a pixel centre the texel coordinate is n + 0.5: its floor is the texel.
    let coverage = textureLoad(atlas, vec2<i32>(floor(v.texel)), 0).r;
    return vec4<f32>(v.color.rgb, v.color.a * coverage);
}
