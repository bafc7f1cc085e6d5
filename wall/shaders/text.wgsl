// Text of the wall: each text run is one image in an RGBA atlas (see render/glyphs.rs), already
// in its colour and premultiplied by its coverage, drawn as quads in target pixels that map
// target pixels one to one onto atlas texels (each texel is read as it is, unfiltered) with
// premultiplied blending. A plain target's fragment is nothing but that read: on a software
// rasteriser every per-pixel operation is paid at 25 megapixels.

struct Params {
    // Target size in pixels.
    target_size: vec2<f32>,
    _pad: vec2<f32>,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var atlas: texture_2d<f32>;

struct VertexIn {
    @location(0) position: vec2<f32>,
    @location(1) texel: vec2<f32>,
};

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    @location(0) texel: vec2<f32>,
};

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
    return out;
}

// At a pixel centre the texel coordinate is n + 0.5: its floor is the texel.
fn read(v: VertexOut) -> vec4<f32> {
    return textureLoad(atlas, vec2<i32>(floor(v.texel)), 0);
}

@fragment
fn fs_main(v: VertexOut) -> @location(0) vec4<f32> {
    return read(v);
}

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let low = c / 12.92;
    let high = pow((c + 0.055) / 1.055, vec3<f32>(2.4));
    return select(high, low, c <= vec3<f32>(0.04045));
}

// An sRGB target expects linear values: the texel's sRGB colour is taken out of its premultiplied
// form, decoded, and premultiplied again.
@fragment
fn fs_srgb(v: VertexOut) -> @location(0) vec4<f32> {
    let t = read(v);
    if (t.a <= 0.0) {
        return vec4<f32>(0.0);
    }
    return vec4<f32>(srgb_to_linear(t.rgb / t.a) * t.a, t.a);
}
