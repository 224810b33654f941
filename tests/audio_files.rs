//! Audio files as `cantus data check`, training and generation meet them: MP3, FLAC and Ogg
//! Vorbis decode; corrupt, empty and unreadable files are refused with the file and the reason;
//! audio and symbolic model folders are never mistaken for each other.

use cantus::audio::decode::{AudioFormat, decode_file, load_mono, wav_bytes};
use cantus::audio::model::{AudioCard, AudioCell, AudioModelConfig, save_audio_model};
use cantus::music::Encoding;
use std::path::Path;
use std::process::{Command, Output};

#[path = "support/cli.rs"]
mod cli;
use cli::{cantus, save_random_model};

const TRAIN: &str = env!("CARGO_BIN_EXE_cantus-train");

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Standard base64 (whitespace ignored), for the encoded fixtures below.
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .map(value)
        .collect();
    let mut out = Vec::new();
    for group in digits.chunks(4) {
        let bits = group
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &d)| acc | u32::from(d) << (18 - 6 * i));
        out.extend_from_slice(&bits.to_be_bytes()[1..group.len()]);
    }
    out
}

/// Zero crossings of a signal, with hysteresis (a crossing counts once the signal passes ±0.1),
/// so codec noise near zero does not count: twice its frequency per second for a pure tone.
fn crossings(samples: &[f32]) -> usize {
    let mut positive = None;
    let mut count = 0;
    for &s in samples {
        let now = if s > 0.1 {
            Some(true)
        } else if s < -0.1 {
            Some(false)
        } else {
            positive
        };
        if positive.is_some() && now != positive {
            count += 1;
        }
        positive = now;
    }
    count
}

#[test]
fn audio_mp3_flac_and_ogg_decode_to_the_tone_they_hold() {
    let dir = tempfile::tempdir().unwrap();
    for (name, encoded) in [
        ("tone.mp3", MP3_BASE64),
        ("tone.flac", FLAC_BASE64),
        ("tone.ogg", OGG_BASE64),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, base64(encoded)).unwrap();
        let decoded = decode_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let info = decoded.info;
        assert_eq!(info.format, AudioFormat::of(&path).unwrap());
        assert_eq!((info.sample_rate, info.channels), (16_000, 2), "{name}");
        // 0.25 s; lossy codecs may keep a little padding.
        assert!(
            (0.24..0.33).contains(&info.duration_seconds()),
            "{name}: {} s",
            info.duration_seconds()
        );
        let mono = load_mono(&path, 8000).unwrap();
        assert!(
            (mono.len() as f64 / 8000.0 - info.duration_seconds()).abs() < 0.002,
            "{name}: {} samples at 8 kHz",
            mono.len()
        );
        // 440 Hz: 220 zero crossings in the 0.25 s of tone (lossy codecs blur the ends).
        let crossings = crossings(&decoded.mono);
        assert!((214..=226).contains(&crossings), "{name}: {crossings}");
    }
}

#[test]
fn audio_data_check_reports_audio_files_and_rejects_bad_ones_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("tone.ogg"), base64(OGG_BASE64)).unwrap();
    let tone: Vec<f32> = (0..4000).map(|i| (i as f32 * 0.1).sin() * 0.3).collect();
    std::fs::write(root.join("tone.wav"), wav_bytes(&tone, 16_000)).unwrap();
    std::fs::write(root.join("empty.wav"), b"").unwrap();
    std::fs::write(
        root.join("corrupt.wav"),
        b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk",
    )
    .unwrap();
    let mut truncated = base64(MP3_BASE64);
    truncated.truncate(3);
    std::fs::write(root.join("truncated.mp3"), truncated).unwrap();
    std::fs::write(root.join("noise.flac"), [0x17u8; 2000]).unwrap();
    std::fs::write(root.join("silence.wav"), wav_bytes(&[], 16_000)).unwrap();

    let check = cantus(&["data", "check", root.to_str().unwrap()]);
    let report = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(check.status.success(), "{report}");
    let line = |name: &str| {
        report
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no line for {name}: {report}"))
            .to_string()
    };
    assert!(
        line("tone.wav").starts_with("OK ")
            && line("tone.wav").ends_with("WAV audio, 0.25 s, 16000 Hz, mono"),
        "{report}"
    );
    assert!(
        line("tone.ogg").contains("Ogg Vorbis audio, 0.2")
            && line("tone.ogg").ends_with("16000 Hz, stereo"),
        "{report}"
    );
    for (name, reason) in [
        ("empty.wav", "the file is empty (0 bytes)"),
        ("corrupt.wav", "not a readable WAV file"),
        ("truncated.mp3", "not a readable MP3 file"),
        ("noise.flac", "not a readable FLAC file"),
        ("silence.wav", "holds no audio samples"),
    ] {
        let line = line(name);
        assert!(
            line.starts_with("REJECT") && line.contains(reason),
            "{line}"
        );
    }
    assert!(
        report.contains("checked 7 files: 2 usable, 5 rejected"),
        "{report}"
    );

    // One bad file named on its own: rejected, and the exit status says so.
    let alone = cantus(&["data", "check", root.join("empty.wav").to_str().unwrap()]);
    assert!(!alone.status.success());
    assert!(text(&alone).contains("REJECT  "), "{}", text(&alone));
}

#[test]
fn audio_training_on_unusable_files_stops_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("empty.wav"), b"").unwrap();
    std::fs::write(data.join("garbage.mp3"), [0u8; 100]).unwrap();
    let short: Vec<f32> = vec![0.1; 100];
    std::fs::write(data.join("short.wav"), wav_bytes(&short, 16_000)).unwrap();
    let config = dir.path().join("audio.toml");
    std::fs::write(
        &config,
        r#"kind = "audio"
name = "nothing"
output = "out"
[data]
train = ["data"]
block_size = 32
[model]
cell = "gru"
hidden = 8
[training]
iterations = 2
epochs = 1
batch_size = 2
sequence_length = 4
learning_rate = 0.01
"#,
    )
    .unwrap();
    let run = Command::new(TRAIN)
        .args(["train", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!run.status.success());
    let message = text(&run);
    assert!(message.contains("no usable training audio"), "{message}");
    assert!(
        message.contains("empty.wav: the file is empty"),
        "{message}"
    );
    assert!(
        message.contains("garbage.mp3: not a readable MP3 file"),
        "{message}"
    );
    assert!(
        message.contains("short.wav: 0.006 s, shorter than one training window"),
        "{message}"
    );
    assert!(!dir.path().join("out/checkpoint.safetensors").exists());

    std::fs::write(
        &config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("[\"data\"]", "[\"nowhere\"]"),
    )
    .unwrap();
    let missing = Command::new(TRAIN)
        .args(["train", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        text(&missing).contains("data.train:") && text(&missing).contains("nowhere does not exist"),
        "{}",
        text(&missing)
    );
}

/// A small untrained audio model folder (the plumbing, not the music, is under test).
fn save_audio_model_folder(dir: &Path) {
    let config = AudioModelConfig {
        cell: AudioCell::Lstm,
        layers: 1,
        hidden: 8,
        block_size: 16,
        sample_rate: 8000,
    };
    let weights = config
        .initial_weights(1, &candle_core::Device::Cpu)
        .unwrap();
    save_audio_model(dir, &AudioCard::new("untrained", config, 4), &weights, &[]).unwrap();
}

#[test]
fn audio_and_symbolic_models_are_never_mistaken_for_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("audio");
    let symbolic = dir.path().join("symbolic");
    save_audio_model_folder(&audio);
    save_random_model(&symbolic, Encoding::melody_events(4));
    let out = |name: &str| dir.path().join(name).to_str().unwrap().to_string();

    // Each mix-up is refused with its reason, and nothing is written.
    std::fs::write(dir.path().join("bad.wav"), b"RIFF").unwrap();
    let (audio, symbolic) = (audio.to_str().unwrap(), symbolic.to_str().unwrap());
    let (wav, mid, bad) = (out("a.wav"), out("a.mid"), out("bad.wav"));
    let refused: [(&str, Vec<&str>, &str); 6] = [
        (
            "a symbolic model asked for seconds of audio",
            vec!["--model", symbolic, "--seconds", "1", "-o", &wav],
            "--seconds is for audio models",
        ),
        (
            "an audio model asked for MIDI",
            vec!["--model", audio, "--seconds", "1", "-o", &mid],
            "is an audio model: the output must end in .wav",
        ),
        (
            "an audio model given no length",
            vec!["--model", audio, "-o", &wav],
            "--seconds S",
        ),
        (
            "an audio model given a sampling setting",
            vec![
                "--model",
                audio,
                "--seconds",
                "1",
                "--temperature",
                "0.5",
                "-o",
                &wav,
            ],
            "--temperature does not apply to audio models",
        ),
        (
            "no primer stored with the model",
            vec!["--model", audio, "--seconds", "1", "-o", &wav],
            "stores no primer audio: give --primer",
        ),
        (
            "a corrupt primer",
            vec![
                "--model",
                audio,
                "--seconds",
                "1",
                "--primer",
                &bad,
                "-o",
                &wav,
            ],
            "bad.wav: not a readable WAV file",
        ),
    ];
    for (case, args, reason) in refused {
        let output = cantus(&[&["generate"][..], &args].concat());
        assert!(!output.status.success(), "{case}");
        assert!(text(&output).contains(reason), "{case}: {}", text(&output));
    }
    std::fs::write(dir.path().join("short.wav"), wav_bytes(&[0.1; 10], 8000)).unwrap();
    let short = cantus(&[
        "generate",
        "--model",
        audio,
        "--seconds",
        "1",
        "--primer",
        &out("short.wav"),
        "-o",
        &out("a.wav"),
    ]);
    assert!(
        text(&short).contains("less than one block of 16"),
        "{}",
        text(&short)
    );
    assert!(!dir.path().join("a.wav").exists());
    // A primer at another rate and in stereo is mixed and resampled; the untrained model runs.
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 22_050,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(dir.path().join("stereo.wav"), spec).unwrap();
    for i in 0..2205 {
        writer
            .write_sample(((i as f32 * 0.2).sin() * 8000.0) as i16)
            .unwrap();
        writer.write_sample(0i16).unwrap();
    }
    writer.finalize().unwrap();
    let ok = cantus(&[
        "generate",
        "--model",
        audio,
        "--seconds",
        "0.5",
        "--primer",
        &out("stereo.wav"),
        "-o",
        &out("a.wav"),
    ]);
    assert!(ok.status.success(), "{}", text(&ok));
    let written = decode_file(&dir.path().join("a.wav")).unwrap();
    assert_eq!(written.info.sample_rate, 8000);
    assert_eq!(written.mono.len(), 800 + 4000);

    // The symbolic tools refuse an audio folder by name.
    let eval = cantus(&["eval", "--model", audio, dir.path().to_str().unwrap()]);
    assert!(text(&eval).contains("is an audio model"), "{}", text(&eval));
    let error = cantus::audio::AudioModel::load(Path::new(symbolic), &candle_core::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("holds a symbolic (MIDI/ABC) model"),
        "{error}"
    );
}

// 0.25 s of a 440 Hz sine, stereo, 16 kHz, encoded by LAME 3.100 (32 kbit/s), FLAC 1.4.2 and
// oggenc 1.4.2 (-q 0); a few kilobytes in all, kept here rather than as binary files.
const MP3_BASE64: &str = "
//NIZAAI8DVaH6eMAAAAA0gBQAAAC9bbsAr1er1er1ezv36sTiGKhrLeJuJuOMhBoGghisZHlATB8Hwf4Y4P+GJT38p5/lPP
9Hv6OCAPh+JwICDoYB8/WBAxwf6FQwAAIJGC4Nbx/zCsQDAIKawqBPlmTGQ1ze5jDCo5jgRRzDchDsEhwMvfA2R0DJFwMtJB
//NIZDMQfT9GAs7QAIAAA0gBgAAAEfIgBksQDQYuhYkDZoGwwfr/hlkMijHCghC3/jki5RcpDhzhzv/yZIqQEyIsRYx//y6X
TIvF5Eul1L//8vF5Eul1JJJaKKv///y8bLBYRUVk///2NGACgARgBYAshzFgBQwF0BwMCfBUjBpQHgwaQJ7MRCKyTa8iMQ68
//NIZCoNPKEWAO+0AAAAA0gBwAAAMt+MftIYDFaBDUw5walMBBC/zBfAJkwFwA5FQCQwBsAATCFAAEFUPUerb//zT/1fX9/v
nv/xXI/p//9X6m9v3///+VKCmFgxkA2ZojmbtxoVWYDKCOGBeBFpg6YyoZTp/YGsmkJRgwgPCYGqA4GFGBo5gh4JuYHeAkAd
//NIZDsLaGEWAG/0NAAAA0gAAAAAAqBnwADBENiFsIYTJl3//n/s2/cQ//I7Pq//+r+/t+MV///4mkICg8aGRETmNMRqdaYE
4CUGCPhHJhOAx8Zh/6RGzoELxhoYXKYOSDpmFaB/RgjYKYYG6AigcYgAEzAUEBbMNUC5CDlx/6/89d2erxH/+nIfUj//7vr/
//NIZFoLZGEWAG/0NAAAA0gAAAAA9Sr///fEqAESAuYAgsYWggHFqZMgGZ7BIbaiaflEwaeGFLHTiAmhiLINSYKaEYmBFDMB
gEYSEFgI8CLQEioQgg64pAcBClp/6/8/v/V9Xq/fP//p0f///X/civ//+WBcADMAHAFTADQAAwA8AmMBSAYDAnAKYwEEGBMI
//NIZHkLEKEWAHf0QgAAA0gAAAAA3DEzFgyVUyoedhNYUDDDDXghQwSAHcMEODXjAuATYwWADQMBqASBoBMMAHABSyaSYFwr
P/9H//b/+3RVDAAKAEAgFAoFAoEAH//mYPGeIfGvkssS8EQc8QgYMGqVgg0C1wD0jRcDAsNPNAvcJzN/8DTMDmkN/Cwf/gDD
//NIZJsLZD0cAK+wAAAAA0gBQAAAEHh+4XBil//w4sGzYdOKyFkYgH//jOhisTmQEPjFLkV///ELi4yIitxkyIjLjjJH///8
ZccZLEDIOSxAyDkgTZEyQ/////Mzc0TNzRZuaLNzSOqIoJqOW7/8Af01VVVOHVVaaChWzMzMyBB1YKgqerBUFsSgqDWCoLcF
//NIZLoSLY1g381MAYAAA0gBgAAAQafEoLHjxUFQaBqJQWBo9BUGgawkDR7UDXLHumpMQU1FMy4xMDCqqqqqqqqqqqqqqqqq
qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq
//NIZKMIiDl5L+MIAQAAA0gBwAAAqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq
qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq
";

const FLAC_BASE64: &str = "
ZkxhQwAAACIQABAAAAszAAszA+gC8AAAD6A1+Bh77++egPXCb1AoFxJaAwAAEgAAAAAAAAAAAAAAAAAAAAAPoIQAACggAAAA
cmVmZXJlbmNlIGxpYkZMQUMgMS40LjIgMjAyMjEwMjIAAAAA//h1iAAPn9FEAAALABWttK4FOA54CX39VNl1tl9Nv6O6wjhB
BRxpok4QaaYQQ1K187TVVbZdZbXRT3uU8e0ss048QaJLOIJepaedoosqvsvqupo/zOcvYWSeYIPPNEFGvJUtK+fprpvrvruq
q97WMdaQaUeYJOOONMIKYpbNf/XXXdbdXZV/+8a41xZRh5wg0QcUWS1i1b7+ui+u66yuyj/NYy15JhZwg84SWeSU9iVK96iy
uu+y6uur3t4T1zyzDDzhBx5pRb3oWru6aa7Lbq76bPf7jO3PKKOMEnCTBBZRLlrQ3VP7arrba7qK+0YzhriSzSxJok0QYYQQ
xSl79XRbVfZZZXV6jWM+YSSaaaIPEGnGEktUxW+U0VW2XV3WUU/3rPGvJNKEmiBBxpxRLmKQvv6qbLrbL6bf0d1hHCCCjjTR
Jwg00wghqVr52mqq2y6y2uinvcp49pZZpx4g0SWcQS9S087RRZVfZfVdTR/mc5ewsk8wQeeaIKNeSpaV8/TXTfXfXdVV72sY
60g0o8wScccaYQUxS2a/+uuu626uyr/941xriyjDzhBog4oslrFq339dF9d11ldlH+axlryTCzhB5wks8kp7EqV71Fldd9l1
ddXvbwnrnlmGHnCDjzSi3vQtXd0012W3V302e/3GdueUUcYJOEmCCyiXLWhuqf21XW213UV9oxnDXElmliTRJogwwghilL36
ui2q+yyyur1GsZ8wkk000QeINOMJJapit8poqtsurusop/vWeNeSaUJNECDjTiiXMUhff1U2XW2X02/o7rCOEEFHGmiThBpp
hBDUrXztNVVtl1ltdFPe5Tx7SyzTjxBoks4gl6lp52iiyq+y+q6mj/M5y9hZJ5gg880QUa8lS0r5+mum+u+u6qr3tYx1pBpR
5gk4440wgpils1/9ddd1t1dlX/7xrjXFlGHnCDRBxRZLWLVvv66L67rrK7KP81jLXkmFnCDzhJZ5JT2JUr3qLK677Lq66ve3
hPXPLMMPOEHHmlFvehau7pprsturvps9/uM7c8oo4wScJMEFlEuWtDdU/tquttruor7RjOGuJLNLEmiTRBhhBDFKXv1dFtV9
llldXqNYz5hJJppog8QacYSS1TFb5TRVbZdXdZRT/es8a8k0oSaIEHGnFEuYpC+/qpsutsvpt/R3WEcIIKONNEnCDTTCCGpW
vnaaqrbLrLa6Ke9ynj2llmnHiDRJZxBL1LTztFFlV9l9V1NH+Zzl7CyTzBB55ogo15KlpXz9NdN9d9d1VXvaxjrSDSjzBJxx
xphBTFLZr/6667rbq7Kv/3jXGuLKMPOEGiDiiyWsWrff10X13XWV2Uf5rGWvJMLOEHnCSzySnsSpXvUWV132XV11e9vCeueW
YYecIOPNKLe9C1d3TTXZbdXfTZ7/cZ255RRxgk4SYILKJctaG6p/bVdbbXdRX2jGcNcSWaWJNEmiDDCCGKUvfq6Lar7LLK6v
UaxnzCSTTTRB4g04wklqmK3ymiq2y6u6yin+9Z415JpQk0QIONOKJcxSF9/VTZdbZfTb+jusI4QQUcaaJOEGmmEENStfO01V
W2XWW10U97lPHtLLNOPEGiSziCXqWnnaKLKr7L6rqaP8znL2FknmCDzzRBRryVLSvn6a6b6767qqve1jHWkGlHmCTjjjTCCm
KWzX/1113W3V2Vf/vGuNcWUYecINEHFFktYtW+/rovruusrso/zWMteSYWcIPOElnklPYlSveosrrvsurrq97eE9c8sww84Q
ceaUW96Fq7ummuy26u+mz3+4ztzyijjBJwkwQWUS5a0N1T+2q622u6ivtGM4a4ks0sSaJNEGGEEMUpe/V0W1X2WWV1eo1jPm
EkmmmiDxBpxhJLVMVvlNFVtl1d1lFP96zxryTShJogQcacUS5ikL7+qmy62y+m39HdYRwggo400ScINNMIIala+dpqqtsust
rop73KePaWWaceINElnEEvUtPO0UWVX2X1XU0f5nOXsLJPMEHnmiCjXkqWlfP01031313VVe9rGOtINKPMEnHHGmEFMUtmv/
rrrutursq//eNca4sow84QaIOKLJaxat9/XRfXddZXZR/msZa8kws4QecJLPJKexKle9RZXXfZdXXV728J655Zhh5wg480ot
70LV3dNNdlt1d9Nnv9xnbnlFHGCThJggsoly1obqn9tV1ttd1FfaMZw1xJZpYk0SaIMMIIYpS9+rotqvsssrq9RrGfMJJNNN
EHiDTjCSWqYrfKaKrbLq7rKKf71njXkmlCTRAg404olzFIX39VNl1tl9Nv6O6wjhBBRxpok4QaaYQQ1K187TVVbZdZbXRT3u
U8e0ss048QaJLOIJepaedoosqvsvqupo/zOcvYWSeYIPPNEFGvJUtK+fprpvrvruqq97WMdaQaUeYJOOONMIKYpbNf/XXXdb
dXZV/+8a41xZRh5wg0QcUWS1i1b7+ui+u66yuyj/NYy15JhZwg84SWeSU9iVK96iyuu+y6uur3t4T1zyzDDzhBx5pRb3oWru
6aa7Lbq76bPf7jO3PKKOMEnCTBBZRLlrQ3VP7arrba7qK+0YzhriSzSxJok0QYYQQxSl79XRbVfZZZXV6jWM+YSSaaaIPEGn
GEktUxW+U0VW2XV3WUU/3rPGvJNKEmiBBxpxRLmKQvv6qbLrbL6bf0d1hHCCCjjTRJwg00wghqVr52mqq2y6y2uinvcp49pZ
Zpx4g0SWcQS9S087RRZVfZfVdTR/mc5ewsk8wQeeaIKNeSpaV8/TXTfXfXdVV72sY60g0o8wScccaYQUxS2a/+uuu626uyr/
941xriyjDzhBog4oslrFq339dF9d11ldlH+axlryTCzhB5wks8kp7EqV71Fldd9l1ddXvbwnrnlmGHnCDjzSi3vQtXd0012W
3V302e/3GdueUUcYJOEmCCyiXLWhuqf21XW213UV9oxnDXElmliTRJogwwghilL36ui2q+yyyur1GsZ8wkk000QeINOMJJap
it8poqtsurusop/vWeNeSaUJNECDjTiiXMUhff1U2XW2X02/o7rCOEEFHGmiThBpphBDUrXztNVVtl1ltdFPe5Tx7SyzTjxB
oks4gl6lp52iiyq+y+q6mj/M5y9hZJ5gg880QUa8lS0r5+mum+u+u6qr3tYx1pBpR5gk4440wgpils1/9ddd1t1dlX/7xrjX
FlGHnCDRBxRZLWLVvv66L67rrK7KP81jLXkmFnCDzhJZ5JT2JUr3qLK677Lq66ve3hPXPLMMPOEHHmlFvehau7pprsturvps
9/uM7c8oo4wScJMEFlEuWtDdU/tquttruor7RjOGuJLNLEmiTRBhhBDFKXv1dFtV9llldXqNYz5hJJppog8QacYSS1TFb5TR
VbZdXdZRT/es8a8k0oSaIEHGnFEuYpC+/qpsutsvpt/R3WEcIIKONNEnCDTTCCGpWvnaaqrbLrLa6Ke9ynj2llmnHiDRJZxB
L1LTztFFlV9l9V1NH+Zzl7CyTzBB55ogo15KlpXz9NdN9d9d1VXvaxjrSDSjzBJxxxphBTFLZr/6667rbq7Kv/3jXGuLKMPO
EGiDiiyWsWrff10X13XWV2Uf5rGWvJMLOEHnCSzySnsSpXvUWV132XV11e9vCeueWYYecIOPNKLe9C1d3TTXZbdXfTZ7/cZ2
55RRxgk4SYILKJctaG6p/bVdbbXdRX2jGcNcSWaWJNEmiDDCCGKUvfq6Lar7LLK6vUaxnzCSTTTRB4g04wklqmK3ymiq2y6u
6yin+9Z415JpQk0QIONOKJcAAAAAm3w=
";

const OGG_BASE64: &str = "
T2dnUwACAAAAAAAAAADh+M41AAAAAIrJlQIBHgF2b3JiaXMAAAAAAoA+AAAAAAAAaocAAAAAAACqAU9nZ1MAAAAAAAAAAAAA
4fjONQEAAABJEMUTD0T/////////////////4wN2b3JiaXM0AAAAWGlwaC5PcmcgbGliVm9yYmlzIEkgMjAyMDA3MDQgKFJl
ZHVjaW5nIEVudmlyb25tZW50KQAAAAABBXZvcmJpcyRCQ1YBAAgAAIAgChnGgNCQVQAAEAAAQohGxlCnlASXgoUQR8RQh5Dz
UGrpIHhKYcmY9BRrEEII33vPvffeeyA0ZBUAAAQAQBgFDmLgMQlCCKEYxQlRnCkIQghhOQmWch46CUL3IIQQLufecu699x4I
DVkFAAACADAIIYQQQgghhBBCCimlFFKKKaaYYsoxxxxzzDHIIIMMOuikk04yqaSTjjLJqKPUWkotxRRTbLnFWGutNefca1DK
GGOMMcYYY4wxxhhjjDHGCEJDVgEAIAAAhEEGGWQQQgghhRRSiimmHHPMMceA0JBVAAAgAIAAAAAAR5EUyZEcyZEkSbIkS9Ik
z/Isz/IsTxM1UVNFVXVV27V925d923d12bd92XZ1WZdlWXdtW5d1V9d1Xdd1Xdd1Xdd1Xdd1Xdd1IDRkFQAgAQCgIzmOIzmO
IzmSIymSAoSGrAIAZAAABADgKI7iOJIjOZZjSZakSZrlWZ7laZ4maqIHhIasAgAAAQAEAAAAAACgKIriKI4jSZalaZrnqZ4o
iqaqqqJpqqqqmqZpmqZpmqZpmqZpmqZpmqZpmqZpmqZpmqZpmqZpmqZpmkBoyCoAQAIAQMdxHMdRHMdxHMmRJAkIDVkFAMgA
AAgAwFAUR5Ecy7EkzdIsz/I00TM9V5RN3dRVGwgNWQUAAAIACAAAAAAAwPEcz/EcT/Ikz/Icz/EkT9I0TdM0TdM0TdM0TdM0
TdM0TdM0TdM0TdM0TdM0TdM0TdM0TdM0TdM0TdOA0JBVAAACAAAgiEKGMSA0ZBUAAAQAgBCikTHUKSXBpWAhxBEx1CHkPJRa
OgieUlgyJj3FGoQQwvfec++99x4IDVkFAAABABBGgYMYeEyCEEIoRnFCFGcKghBCWE6CpZyHToLQPQghhMu5t5x7770HQkNW
AQCAAAAMQgghhBBCCCGEkEJKKYWUYooppphyzDHHHHMMMsgggw466aSTTCrppKNMMuootZZSSzHFFFtuMdZaa8059xqUMsYY
Y4wxxhhjjDHGGGOMMYLQkFUAAAgAAGGQQQYZhBBCSCGFlGKKKcccc8wxIDRkFQAACAAgAAAAwFEkRXIkR3IkSZIsyZI0ybM8
y7M8y9NETdRUUVVd1XZt3/Zl3/ZdXfZtX7ZdXdZlWdZd29Zl3dV1Xdd1Xdd1Xdd1Xdd1Xdd1HQgNWQUASAAA6EiO40iO40iO
5EiKpAChIasAABkAAAEAOIqjOI7kSI7lWJIlaZJmeZZneZqniZroAaEhqwAAQAAAAQAAAAAAKIqiOIrjSJJlaZrmeaoniqKp
qqpomqqqqqZpmqZpmqZpmqZpmqZpmqZpmqZpmqZpmqZpmqZpmqZpmiYQGrIKAJAAANBxHMdxFMdxHEdyJEkCQkNWAQAyAAAC
ADAUxVEkx3IsSbM0y7M8TfRMzxVlUzd11QZCQ1YBAIAAAAIAAAAAAHA8x3M8x5M8ybM8x3M8yZM0TdM0TdM0TdM0TdM0TdM0
TdM0TdM0TdM0TdM0TdM0TdM0TdM0TdM0TdM0IDRkJQBABgCAGNIgcxRaA8hizEmKxRhjjDHGeEo8CKnVIioRmYPUiqbEY4xB
Cp4TkSnlKJhSXOgYtCJz0TGVlIstxhjjezGC0JAVAkBoBoDBcQBJ0wBJ0wAAAAAAAABA8jzAE01AE00AAAAAAAAAkDwP0EQR
0EQRAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADJ
8wDPNAHPNAEAAAAAAABAM01AFF3AdFUAAAAAAAAA0EwTEF0TMFUXAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADJ8wDPNAHPNAEAAAAAAABAM03AdFVANF0AAAAAAAAA0EwTMFUX
EF0RAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAAABAgAMAQICFUGjIigAgTgDA4DiWBQAAjmVpFgAA
OJZlWQAAYFmWKAIAgGVZoggAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAIAAAYMABACDAhDJQaMhKACAKAMCgGJoHsCyAZQE0DaBpAM8DeB5AFAGAAACAAgcAgAAbNCUWByg0ZCUAEAUA
YFAUy7Isz4OmaZrnQdM0zfOgaZ4nitA0zxNFeKLnmSY8z/NME6YpiqYJRNE0BQAAFDgAAATYoCmxOEChISsBgJAAAIPiWJam
eZ7niaJpqio0zfNEURRN01RVFZbleaIoiqapqqoKTfM8URRF01RV14WmeZ4oiqJpqqrrwvNE0TRNU1Vd13XheaJomqapqq7r
yhBFUTRN01RV15VlYJqmaZqq6rqyDETRNFXVdWVZloEomqaquq4syzYwTVNVVdeVZdkGmKaquq4s2zZAVV1XlmXZtgGq6rqu
LNu6DXBd15Vl2bZ1AK4ry7Zs2wIAAA4cAAACjKCTjCqLsNGECw9AoSErAoAoAADAGKUUU8owRqWkVBrGpJRUSiUlpZRSqSCk
1lIIFZTUWgolo5RSarFVUFIpLcZKQioltVgAANiBAwDYgYVQaMhKACAPAAAgRinGnHNOSsmYcw5CKKVUzDnnoJNSMuYchBBK
KRlzDkIHpZTOQQghhJRS5yCEEEpJKYQQQgglpVRSCCGUkFIqqZQQSkkppRRCCKUUAABU4AAAEGCjyOYEI0GFhqwEAFIBAAyO
o2maplmeZ5qWZHme53meJ5qmZlme53me53mmyfM8T/REUTRNk+h5nih6niiaJlf1PFEURdNUTa7seaIpiqqquvA8zzNFV3Zt
eJ4nmqbryjZkWRRVFRts2zRd1bVtG6iqLNuybQNXll3Ztm0BAOAJDgBABTasjnBSNBZYaMhKACADAAAwBCHGmFKMMYQYY0ox
xpQSAAAw4AAAEGBCGSg0ZEUAEAUAADjnnHPOOeecc84555xzzjnnnHPOMcYYY4wxxhhjjDHGGGOMMcYYY4wxxhhjjDHGGGOM
CQDYiXAA2ImwEAoNWQkAhAMAAAghBCmVUkopJVNKKSmllFJKKZlSSkkopZRSSikZc1BKKaWUUkrpmJQSSimllFJKKaWUUkop
pZRSSimllFJKKaWUUkoppZRSSimllFJKKaWUUkoppZRSSimllFJKKaWUUkoppZRSSimllFJKKaWUUkoppZRSSimllFJKKaWU
UkoppZRSSimllFJKKaWUAgBMHhwAoBJsnGEl6axwNLjQkJUAQG4AAIAQc45BCK2l1kpJrbXUWgcdg1JSKqmVVlprqaXQOSih
g9JaSi2V1FJrHYRQUkstpZRaS6m1lELoIKQQSkgppZZSaa2FlkpKKbXWUkqttNZKCSWUEkIopZWUQkolpVRKCaGUEEpKJZVU
UioppRJKCSWEFEIqJaVSUkkdpFRCSamkVEpJJZSSQikhlVJKKimFVFIpKZVSQikppVBKKSWVUkIpqZRSSiiplFJSSqWUUlJJ
JZVSQkqllJRKKaWUUlIKpZRUUiklhZJKKiWUUlJJpZRSUioplZJSCaGUUkpIoZSSUimlpJRKCKWkUkopKaVSSkoplFJKKKGk
kkpJqaSUUiqplBJSKimllFJKqaRSSkmlpFBKKQAA6MABACDAiEoLsdOMK4/AEYUME1AAACAIADAQITOBQAEUGMgAgAOEBCkA
oLDAULrQBSFEkC6CLB64cOLGEzec0KENADAQITMBQjFESMgGgAmKCukAYHGBUbrQBSFEkC6CLB64cOLGEzec0KEFBAAAAACA
BwA+AAASDCAgIpq5DI0Njg6PD5AQkRESAABAAAEAAAAAAAAAAARPZ2dTAASgDwAAAAAAAOH4zjUCAAAAV25IKgkoJSQiISEh
IjVya2o4DDk4EyHk1tRwGHJwJkJgG9CvEwAAAABAR6tRGjSdFDKyKAsAgnNuOPYCOM0KEJxzw7EXwGlWAAYEAAAAAAAAADEB
QJSRGZFIBoJzbjj2AjjNMgjOueHYC+A0y4ABAQAAAAAAAIAEgECa9IjJAIJzbjj2AjjNihCcc8OxF8BpVgQ2AChVJQAAAAAA
AAgppQSCc244rgY4zYoQnHPDcTXAaVYENgBooJQAAAAAAAAgyQSCc244rgY4zYoQnHPDcTXAaVYENgBCAxIAAAAAAABkkQuC
c2449gI4zQoQnHPDsRfAaVYANgCoqhMAAAAAAAAkETKCc244rgY4zVogOOeG42qA06wF2ACgUJ0AAAAAABAAIZoyamtqF7+d
0neSDbZra2oXv53Sd5INto0BgEJdSgIAkAIAaFNFRXNqo6AyJuNgnNbBui5oiQA=
";
