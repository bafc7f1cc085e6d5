//! Which monitor each of `run`'s full-screen windows goes to, and what a technician is told when
//! the machine's monitors do not match the layout: a monitor the layout names that is not there,
//! a window left without a monitor, a monitor whose mode is not the output's size or runs below
//! 60 Hz. `run` logs these; `dieuhanh-wall monitors` prints the monitors and the same advice
//! before the wall goes up. No window system here: the monitors come in as plain values.

use std::fmt;

/// A monitor as the window system reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitor {
    /// The name a layout's `monitor =` gives (X11: the RandR output, "DP-1").
    pub name: Option<String>,
    /// Its top-left corner on the desktop, px.
    pub position: [i32; 2],
    /// Its current mode, px.
    pub size: [u32; 2],
    /// Its refresh rate, mHz, where known.
    pub refresh_mhz: Option<u32>,
}

impl fmt::Display for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [w, h] = self.size;
        let [x, y] = self.position;
        write!(
            f,
            "{} {w}×{h} px at ({x}, {y})",
            self.name.as_deref().unwrap_or("(unnamed)")
        )?;
        if let Some(mhz) = self.refresh_mhz {
            write!(f, ", {:.2} Hz", f64::from(mhz) / 1000.0)?;
        }
        Ok(())
    }
}

/// A full-screen window `run` opens.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    /// What it is, for messages: "output `trai`", "the conference feed".
    pub what: String,
    /// The monitor the layout names for it.
    pub monitor: Option<String>,
    /// The pixels it shows at the screens' own resolution (the output's block, the feed's size).
    pub size: [u32; 2],
}

/// Where each window goes, and what does not fit.
#[derive(Debug, Default, PartialEq)]
pub struct Assignment {
    /// Per window, in order: the index of its monitor, or `None` when none is left for it.
    pub monitors: Vec<Option<usize>>,
    /// What the technician should know (each says what to do).
    pub notes: Vec<String>,
}

/// Below this a monitor cannot show the wall's 60 frames a second (59.94 Hz modes pass).
const MIN_REFRESH_MHZ: u32 = 59_000;

/// Windows whose layout names a monitor that is there get it; the others take the monitors no
/// one named, in the order of their place on the desktop (top row first, then left to right),
/// as the layout lists them.
pub fn assign(wanted: &[Wanted], monitors: &[Monitor]) -> Assignment {
    let mut out = Assignment {
        monitors: vec![None; wanted.len()],
        notes: Vec::new(),
    };
    let mut taken = vec![false; monitors.len()];
    for (i, w) in wanted.iter().enumerate() {
        let Some(name) = &w.monitor else { continue };
        match monitors
            .iter()
            .position(|m| m.name.as_deref() == Some(name.as_str()))
        {
            Some(m) if !taken[m] => {
                taken[m] = true;
                out.monitors[i] = Some(m);
            }
            // `check` refuses two windows on one monitor; a layout edited since is told here.
            Some(_) => out.notes.push(format!(
                "{} names monitor `{name}`, which another window already has; it takes a \
                 free monitor instead: give each window its own monitor",
                w.what
            )),
            None => out.notes.push(format!(
                "{} names monitor `{name}`, which this machine does not have ({}); it takes a \
                 free monitor instead: write one of the names there are in the layout's \
                 `monitor =` (`dieuhanh-wall monitors` lists them), or check the cable",
                w.what,
                names(monitors)
            )),
        }
    }
    let mut free: Vec<usize> = (0..monitors.len()).filter(|&m| !taken[m]).collect();
    free.sort_by_key(|&m| (monitors[m].position[1], monitors[m].position[0]));
    let mut free = free.into_iter();
    for (i, w) in wanted.iter().enumerate() {
        if out.monitors[i].is_some() {
            continue;
        }
        out.monitors[i] = free.next();
        if out.monitors[i].is_none() {
            out.notes.push(format!(
                "no monitor is left for {}: it opens at {}×{} px over another window; connect \
                 one more monitor, or leave it out of the layout",
                w.what, w.size[0], w.size[1]
            ));
        }
    }
    for (w, m) in wanted.iter().zip(&out.monitors) {
        let Some(m) = m.map(|m| &monitors[m]) else {
            continue;
        };
        let name = m.name.as_deref().unwrap_or("(unnamed)");
        if m.size != w.size {
            out.notes.push(format!(
                "{} shows {}×{} px but monitor {name} is set to {}×{}: its picture is scaled to \
                 fit (text blurs, the bezels' gaps move); set the monitor's mode to {}×{} (xrandr \
                 --output {name} --mode …) or correct the layout's screens",
                w.what, w.size[0], w.size[1], m.size[0], m.size[1], w.size[0], w.size[1]
            ));
        }
        if let Some(mhz) = m.refresh_mhz.filter(|&r| r > 0 && r < MIN_REFRESH_MHZ) {
            out.notes.push(format!(
                "monitor {name} ({}) refreshes at {:.2} Hz: the wall moves in steps there; set it \
                 to 60 Hz",
                w.what,
                f64::from(mhz) / 1000.0
            ));
        }
    }
    out
}

/// The monitors' names, for a message: "there are DP-1, HDMI-1".
fn names(monitors: &[Monitor]) -> String {
    if monitors.is_empty() {
        return "the window system reports no monitor".to_owned();
    }
    let names: Vec<&str> = monitors
        .iter()
        .map(|m| m.name.as_deref().unwrap_or("(unnamed)"))
        .collect();
    format!("there are {}", names.join(", "))
}

/// The windows `run` opens for `layout`, in its order: each output, then the conference feed.
pub fn wanted(layout: &crate::layout::Layout) -> Vec<Wanted> {
    let mut out: Vec<Wanted> = layout
        .outputs
        .iter()
        .map(|o| Wanted {
            what: format!("output `{}`", o.name),
            monitor: o.monitor.clone(),
            size: o.pixel_size(&layout.wall),
        })
        .collect();
    if let Some(feed) = &layout.feed {
        out.push(Wanted {
            what: "the conference feed".to_owned(),
            monitor: feed.monitor.clone(),
            size: feed.size,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor(name: &str, x: i32, y: i32, w: u32, h: u32, hz: u32) -> Monitor {
        Monitor {
            name: Some(name.to_owned()),
            position: [x, y],
            size: [w, h],
            refresh_mhz: Some(hz * 1000),
        }
    }

    fn want(what: &str, monitor: Option<&str>, w: u32, h: u32) -> Wanted {
        Wanted {
            what: what.to_owned(),
            monitor: monitor.map(str::to_owned),
            size: [w, h],
        }
    }

    #[test]
    fn named_monitors_are_taken_and_the_rest_go_by_place_on_the_desktop() {
        // Listed as the window system lists them, not left to right.
        let monitors = [
            monitor("HDMI-A-1", 7680, 0, 1920, 1080, 60),
            monitor("DP-2", 3840, 0, 3840, 3240, 60),
            monitor("DP-1", 0, 0, 3840, 3240, 60),
        ];
        let wanted = [
            want("output `trai`", None, 3840, 3240),
            want("output `phai`", Some("DP-2"), 3840, 3240),
            want("the conference feed", None, 1920, 1080),
        ];
        let a = assign(&wanted, &monitors);
        assert_eq!(a.monitors, vec![Some(2), Some(1), Some(0)]);
        assert!(a.notes.is_empty(), "{:?}", a.notes);
    }

    #[test]
    fn a_missing_monitor_is_named_with_the_ones_there_are() {
        let monitors = [monitor("HDMI-1", 0, 0, 1920, 1080, 60)];
        let wanted = [want("output `man-hinh`", Some("DP-1"), 1920, 1080)];
        let a = assign(&wanted, &monitors);
        assert_eq!(a.monitors, vec![Some(0)], "it still goes up somewhere");
        assert_eq!(a.notes.len(), 1, "{:?}", a.notes);
        let n = &a.notes[0];
        assert!(
            n.contains("`DP-1`, which this machine does not have"),
            "{n}"
        );
        assert!(n.contains("(there are HDMI-1)"), "{n}");
        assert!(n.contains("`monitor =`"), "{n}");
    }

    #[test]
    fn a_window_without_a_monitor_a_wrong_mode_and_a_slow_monitor_are_told() {
        let monitors = [monitor("DP-1", 0, 0, 1920, 1080, 30)];
        let wanted = [
            want("output `trai`", None, 3840, 2160),
            want("the conference feed", None, 1920, 1080),
        ];
        let a = assign(&wanted, &monitors);
        assert_eq!(a.monitors, vec![Some(0), None]);
        let all = a.notes.join("\n");
        assert!(
            all.contains("no monitor is left for the conference feed: it opens at 1920×1080 px"),
            "{all}"
        );
        assert!(
            all.contains("output `trai` shows 3840×2160 px but monitor DP-1 is set to 1920×1080"),
            "{all}"
        );
        assert!(all.contains("refreshes at 30.00 Hz"), "{all}");
        assert_eq!(a.notes.len(), 3, "{all}");
    }

    #[test]
    fn a_monitor_named_twice_goes_to_the_first_window() {
        let monitors = [
            monitor("DP-1", 0, 0, 1920, 1080, 60),
            monitor("DP-2", 1920, 0, 1920, 1080, 60),
        ];
        let wanted = [
            want("output `a`", Some("DP-1"), 1920, 1080),
            want("output `b`", Some("DP-1"), 1920, 1080),
        ];
        let a = assign(&wanted, &monitors);
        assert_eq!(a.monitors, vec![Some(0), Some(1)]);
        assert!(a.notes[0].contains("output `b` names monitor `DP-1`, which another window"));
    }

    #[test]
    fn the_national_layout_wants_two_outputs_and_its_feed() {
        let assets = crate::catalogue::assets_dir();
        let cat = crate::catalogue::Catalogue::load(&assets).expect("catalogue");
        let layout =
            crate::layout::load(&assets.join("layouts/national.toml"), &cat).expect("layout");
        let w = wanted(&layout);
        let sizes: Vec<_> = w.iter().map(|w| (w.monitor.as_deref(), w.size)).collect();
        assert_eq!(
            sizes,
            vec![
                (Some("DP-1"), [3840, 3240]),
                (Some("DP-2"), [3840, 3240]),
                (Some("HDMI-A-1"), [1920, 1080]),
            ]
        );
    }
}
