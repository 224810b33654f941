//! A private Xvfb display for the editor tests: start one, photograph it with `xwd`, and read
//! the picture's colours.

// Each test crate uses only part of this module.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The roll's colours (`src/plugin/editor/roll.rs`): the player's blue, Cantus's orange.
pub const PLAYER: [u8; 3] = [70, 160, 255];
pub const CANTUS: [u8; 3] = [255, 150, 40];

/// Polls `done` every 200 ms; fails the test after `patience`.
pub fn wait_until(what: &str, patience: Duration, done: impl FnMut() -> bool) {
    assert!(poll_until(patience, done), "waited in vain for {what}");
}

/// Polls `done` every 200 ms for up to `patience`; whether it came true. For callers that
/// assert on what they waited for, with its own message.
pub fn poll_until(patience: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + patience;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(200));
    }
    true
}

/// A private X server in memory, killed when dropped.
pub struct Xvfb {
    child: Option<Child>,
    pub display: String,
}

impl Xvfb {
    /// Starts one on a display number of its own, or `None` (after saying so) when Xvfb or xwd
    /// is not installed and `CANTUS_REQUIRE_XVFB` is not 1.
    pub fn start() -> Option<Xvfb> {
        let missing = ["Xvfb", "xwd"].into_iter().find(|tool| !installed(tool));
        if let Some(tool) = missing {
            assert!(
                std::env::var("CANTUS_REQUIRE_XVFB").as_deref() != Ok("1"),
                "CANTUS_REQUIRE_XVFB=1 but {tool} is not installed (apt-get install xvfb x11-apps)"
            );
            println!("skipped: {tool} not installed");
            return None;
        }
        let display = format!(":{}", 50 + std::process::id() % 400);
        let child = Command::new("Xvfb")
            .args([&display, "-screen", "0", "1024x720x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts");
        let mut xvfb = Xvfb {
            child: Some(child),
            display,
        };
        wait_until("Xvfb", Duration::from_secs(20), || {
            xvfb.screenshot().is_some()
        });
        Some(xvfb)
    }

    /// The whole screen, or `None` while the server is not up.
    pub fn screenshot(&mut self) -> Option<Screenshot> {
        let output = Command::new("xwd")
            .args(["-root", "-silent", "-display", &self.display])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !output.status.success() {
            return None;
        }
        Screenshot::from_xwd(&output.stdout)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        self.stop();
    }
}

fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A screen's pixels, RGB, row by row.
pub struct Screenshot {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl Screenshot {
    /// Decodes an X window dump of a true-colour screen (what `xwd` writes for Xvfb's 24-bit
    /// screen): a big-endian header of 25 32-bit fields and the window name, a colour map, then
    /// Z-format pixels in the byte order the header names.
    fn from_xwd(data: &[u8]) -> Option<Screenshot> {
        let field = |i: usize| -> Option<u32> {
            let bytes = data.get(i * 4..i * 4 + 4)?;
            Some(u32::from_be_bytes(bytes.try_into().ok()?))
        };
        let header_size = field(0)? as usize;
        let (width, height) = (field(4)? as usize, field(5)? as usize);
        let little_endian = field(7)? == 0;
        let bits_per_pixel = field(11)?;
        let bytes_per_line = field(12)? as usize;
        let masks = [field(14)?, field(15)?, field(16)?];
        let colours = field(19)? as usize;
        // Z format, 24 or 32 bits a pixel (Xvfb's depth-24 screen dumps as packed 24).
        let bytes_per_pixel = bits_per_pixel as usize / 8;
        if field(2)? != 2 || !(3..=4).contains(&bytes_per_pixel) {
            return None;
        }
        let pixels = data.get(header_size + colours * 12..)?;
        let mut rgb = Vec::with_capacity(width * height * 3);
        for y in 0..height {
            for x in 0..width {
                let at = y * bytes_per_line + x * bytes_per_pixel;
                let mut bytes = pixels.get(at..at + bytes_per_pixel)?.to_vec();
                if little_endian {
                    bytes.reverse();
                }
                let value = bytes.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b));
                rgb.extend(masks.map(|m| ((value & m) >> m.trailing_zeros()) as u8));
            }
        }
        Some(Screenshot { width, height, rgb })
    }

    /// The window alone: the screen cut to the last column and row that are not the root
    /// window's black (the window sits at the top left; there is no window manager).
    pub fn window(self) -> Screenshot {
        let lit = |x: usize, y: usize| self.rgb[(y * self.width + x) * 3..][..3] != [0, 0, 0];
        let width = (0..self.width)
            .rev()
            .find(|&x| (0..self.height).any(|y| lit(x, y)));
        let height = (0..self.height)
            .rev()
            .find(|&y| (0..self.width).any(|x| lit(x, y)));
        let (Some(width), Some(height)) = (width, height) else {
            return self;
        };
        let (width, height) = (width + 1, height + 1);
        let rgb = (0..height)
            .flat_map(|y| &self.rgb[y * self.width * 3..][..width * 3])
            .copied()
            .collect();
        Screenshot { width, height, rgb }
    }

    pub fn pixels(&self) -> impl Iterator<Item = [u8; 3]> + '_ {
        self.rgb.chunks_exact(3).map(|p| [p[0], p[1], p[2]])
    }

    /// Pixels within a few levels of `colour` (the GL rasteriser may round).
    pub fn count(&self, colour: [u8; 3]) -> usize {
        let near = |p: [u8; 3]| (0..3).all(|i| p[i].abs_diff(colour[i]) <= 6);
        self.pixels().filter(|&p| near(p)).count()
    }

    pub fn distinct_colours(&self) -> usize {
        let mut seen: Vec<[u8; 3]> = self.pixels().collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    }

    pub fn save_png(&self, path: &Path) {
        let file = std::fs::File::create(path).expect("the screenshot's file");
        let mut encoder = png::Encoder::new(
            std::io::BufWriter::new(file),
            self.width as u32,
            self.height as u32,
        );
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("a PNG header");
        writer
            .write_image_data(&self.rgb)
            .expect("the PNG's pixels");
    }
}
