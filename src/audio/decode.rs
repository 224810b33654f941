//! Audio files ↔ mono sample streams: WAV through hound, MP3, FLAC and Ogg Vorbis through
//! symphonia; mixing to mono, resampling (rubato) and writing 16-bit WAV.
//!
//! Readers never panic on bad input: every failure is an [`AudioError`] that names the file and
//! says why, so `cantus data check` can print it and training can skip the file.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// The audio file types Cantus reads, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioFormat {
    Wav,
    Mp3,
    Flac,
    Ogg,
}

impl AudioFormat {
    /// `.wav`, `.mp3`, `.flac`, `.ogg`/`.oga`, any case; `None` for anything else.
    pub fn of(path: &Path) -> Option<AudioFormat> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "wav" | "wave" => Some(AudioFormat::Wav),
            "mp3" => Some(AudioFormat::Mp3),
            "flac" => Some(AudioFormat::Flac),
            "ogg" | "oga" => Some(AudioFormat::Ogg),
            _ => None,
        }
    }

    /// The name printed in reports.
    pub fn name(self) -> &'static str {
        match self {
            AudioFormat::Wav => "WAV",
            AudioFormat::Mp3 => "MP3",
            AudioFormat::Flac => "FLAC",
            AudioFormat::Ogg => "Ogg Vorbis",
        }
    }
}

/// Why an audio file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: the file is empty (0 bytes)")]
    EmptyFile { path: PathBuf },
    #[error("{path}: not a readable {format} file: {reason}")]
    Unreadable {
        path: PathBuf,
        format: &'static str,
        reason: String,
    },
    #[error("{path}: holds no audio samples")]
    NoSamples { path: PathBuf },
    #[error("{path}: unknown audio file type: expected .wav, .mp3, .flac or .ogg")]
    UnknownType { path: PathBuf },
    #[error("{path}: {reason}")]
    Unsupported { path: PathBuf, reason: String },
}

/// What a file holds, as `cantus data check` reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioInfo {
    pub format: AudioFormat,
    pub sample_rate: u32,
    pub channels: usize,
    /// Samples per channel.
    pub frames: usize,
}

impl AudioInfo {
    /// Length in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.frames as f64 / f64::from(self.sample_rate)
    }
}

/// A decoded file: its description and its samples mixed to mono, at the file's own rate.
#[derive(Debug, Clone)]
pub struct DecodedAudio {
    pub info: AudioInfo,
    pub mono: Vec<f32>,
}

/// Reads a whole audio file and mixes it to mono (at its own rate).
pub fn decode_file(path: &Path) -> Result<DecodedAudio, AudioError> {
    let format = AudioFormat::of(path).ok_or_else(|| AudioError::UnknownType {
        path: path.to_path_buf(),
    })?;
    let bytes = std::fs::read(path).map_err(|source| AudioError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.is_empty() {
        return Err(AudioError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let unreadable = |reason: String| AudioError::Unreadable {
        path: path.to_path_buf(),
        format: format.name(),
        reason,
    };
    let (interleaved, sample_rate, channels) = match format {
        AudioFormat::Wav => decode_wav(&bytes).map_err(unreadable)?,
        _ => decode_symphonia(bytes, format).map_err(unreadable)?,
    };
    if channels == 0 || sample_rate == 0 {
        return Err(unreadable(format!(
            "{channels} channels at {sample_rate} Hz"
        )));
    }
    let frames = interleaved.len() / channels;
    if frames == 0 {
        return Err(AudioError::NoSamples {
            path: path.to_path_buf(),
        });
    }
    Ok(DecodedAudio {
        info: AudioInfo {
            format,
            sample_rate,
            channels,
            frames,
        },
        mono: mix_to_mono(&interleaved, channels),
    })
}

/// Reads a file, mixes it to mono and resamples it to `sample_rate`: what models train on.
pub fn load_mono(path: &Path, sample_rate: u32) -> Result<Vec<f32>, AudioError> {
    let decoded = decode_file(path)?;
    resample(&decoded.mono, decoded.info.sample_rate, sample_rate).map_err(|reason| {
        AudioError::Unsupported {
            path: path.to_path_buf(),
            reason,
        }
    })
}

/// Interleaved samples as floats in [−1, 1], the rate and the channel count.
fn decode_wav(bytes: &[u8]) -> Result<(Vec<f32>, u32, usize), String> {
    let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let spec = reader.spec();
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?,
        hound::SampleFormat::Int => {
            let bits = spec.bits_per_sample;
            if !(1..=32).contains(&bits) {
                return Err(format!("{bits}-bit samples"));
            }
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|s| s as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?
        }
    };
    Ok((samples, spec.sample_rate, usize::from(spec.channels)))
}

/// Decodes MP3, FLAC or Ogg Vorbis. Damaged packets are skipped (as players do); a file of
/// which no packet decodes is an error.
fn decode_symphonia(bytes: Vec<u8>, format: AudioFormat) -> Result<(Vec<f32>, u32, usize), String> {
    let stream = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut hint = Hint::new();
    hint.with_extension(match format {
        AudioFormat::Mp3 => "mp3",
        AudioFormat::Flac => "flac",
        _ => "ogg",
    });
    let mut reader = symphonia::default::get_probe()
        .probe(
            &hint,
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| e.to_string())?;
    let track = reader
        .default_track(TrackType::Audio)
        .ok_or("no audio track")?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or("no audio codec parameters")?
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| e.to_string())?;
    let mut rate = params.sample_rate.unwrap_or(0);
    let mut channels = params.channels.as_ref().map_or(0, |c| c.count());
    let mut samples = Vec::new();
    let mut scratch: Vec<f32> = Vec::new();
    let mut first_error = None;
    loop {
        let packet = match reader.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break;
            }
            Err(SymphoniaError::DecodeError(why)) => {
                first_error.get_or_insert_with(|| why.to_string());
                break;
            }
            Err(e) => return Err(e.to_string()),
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buffer) => {
                rate = buffer.spec().rate();
                channels = buffer.spec().channels().count();
                buffer.copy_to_vec_interleaved(&mut scratch);
                samples.extend_from_slice(&scratch);
            }
            Err(SymphoniaError::DecodeError(why)) => {
                first_error.get_or_insert_with(|| why.to_string());
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    if samples.is_empty()
        && let Some(why) = first_error
    {
        return Err(format!("malformed stream: {why}"));
    }
    Ok((samples, rate, channels))
}

/// The mean of the channels of interleaved samples.
pub fn mix_to_mono(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels <= 1 {
        return interleaved.to_vec();
    }
    let scale = 1.0 / channels as f32;
    interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() * scale)
        .collect()
}

/// Resamples mono samples from `from` Hz to `to` Hz with rubato's FFT resampler (band-limited,
/// its delay trimmed so the output lines up with the input). Equal rates copy.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, String> {
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let mut resampler = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Both)
        .map_err(|e| format!("cannot resample {from} Hz to {to} Hz: {e}"))?;
    let input = InterleavedSlice::new(samples, 1, samples.len())
        .map_err(|e| format!("cannot resample: {e}"))?;
    let output = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|e| format!("cannot resample {from} Hz to {to} Hz: {e}"))?;
    Ok(output.take_data())
}

/// Mono samples as a 16-bit PCM WAV file's bytes (values beyond ±1 are clipped).
pub fn wav_bytes(samples: &[f32], sample_rate: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::new());
    {
        let mut writer =
            hound::WavWriter::new(&mut cursor, spec).expect("writing to memory cannot fail");
        for &s in samples {
            let value = (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16;
            writer
                .write_sample(value)
                .expect("writing to memory cannot fail");
        }
        writer.finalize().expect("writing to memory cannot fail");
    }
    cursor.into_inner()
}

/// Every audio file below `root` (or `root` itself if it is a file), sorted; symlinked folders
/// are not followed. Unreadable folders are returned as errors rather than ending the walk.
pub fn find_audio_files(root: &Path) -> Vec<Result<PathBuf, AudioError>> {
    if !root.is_dir() {
        return vec![Ok(root.to_path_buf())];
    }
    let mut found = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(source) => {
                found.push(Err(AudioError::Io {
                    path: folder,
                    source,
                }));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                folders.push(path);
            } else if AudioFormat::of(&path).is_some() {
                found.push(Ok(path));
            }
        }
    }
    found.sort_by_key(|entry| match entry {
        Ok(path) => path.clone(),
        Err(AudioError::Io { path, .. }) => path.clone(),
        Err(_) => PathBuf::new(),
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(frequency: f32, rate: u32, count: usize) -> Vec<f32> {
        (0..count)
            .map(|i| (std::f32::consts::TAU * frequency * i as f32 / rate as f32).sin() * 0.5)
            .collect()
    }

    #[test]
    fn audio_wav_round_trips_through_hound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tone.WAV");
        let samples = sine(440.0, 8000, 800);
        std::fs::write(&path, wav_bytes(&samples, 8000)).unwrap();
        let decoded = decode_file(&path).unwrap();
        assert_eq!(decoded.info.sample_rate, 8000);
        assert_eq!(decoded.info.channels, 1);
        assert_eq!(decoded.info.frames, 800);
        assert!((decoded.info.duration_seconds() - 0.1).abs() < 1e-9);
        let worst = samples
            .iter()
            .zip(&decoded.mono)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-4, "{worst}");
    }

    #[test]
    fn audio_stereo_float_wav_is_mixed_to_mono() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stereo.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 22050,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut writer = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..100 {
            writer.write_sample(i as f32 / 100.0).unwrap();
            writer.write_sample(-0.5f32).unwrap();
        }
        writer.finalize().unwrap();
        let decoded = decode_file(&path).unwrap();
        assert_eq!(decoded.info.channels, 2);
        assert_eq!(decoded.info.frames, 100);
        assert_eq!(decoded.mono.len(), 100);
        assert!((decoded.mono[50] - (0.5 - 0.5) / 2.0).abs() < 1e-6);
        assert_eq!(mix_to_mono(&[1.0, 0.0, 0.5, 0.5], 2), vec![0.5, 0.5]);
    }

    #[test]
    fn audio_resampling_keeps_length_and_pitch() {
        let from = sine(440.0, 44100, 44100);
        let to = resample(&from, 44100, 16000).unwrap();
        assert!((to.len() as i64 - 16000).abs() <= 2, "{}", to.len());
        let expected = sine(440.0, 16000, to.len());
        // Away from the edges the resampled wave is the same sine sampled at the new rate (to
        // within a few percent of its amplitude: the filter's ripple and a sub-sample delay).
        let worst = to[500..15000]
            .iter()
            .zip(&expected[500..15000])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 0.03, "{worst}");
        // The pitch: 880 zero crossings a second.
        let crossings = to
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        assert!((878..=881).contains(&crossings), "{crossings}");
        assert_eq!(resample(&to, 16000, 16000).unwrap(), to);
    }

    #[test]
    fn audio_bad_files_name_themselves_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.wav");
        std::fs::write(&empty, b"").unwrap();
        let error = decode_file(&empty).unwrap_err().to_string();
        assert!(
            error.contains("empty.wav") && error.contains("empty"),
            "{error}"
        );

        let garbage = dir.path().join("garbage.wav");
        std::fs::write(&garbage, b"this is not a RIFF file at all").unwrap();
        let error = decode_file(&garbage).unwrap_err().to_string();
        assert!(
            error.contains("garbage.wav") && error.contains("not a readable WAV file"),
            "{error}"
        );

        let silent = dir.path().join("silent.wav");
        std::fs::write(&silent, wav_bytes(&[], 16000)).unwrap();
        let error = decode_file(&silent).unwrap_err().to_string();
        assert!(error.contains("no audio samples"), "{error}");

        for name in ["noise.mp3", "noise.flac", "noise.ogg"] {
            let path = dir.path().join(name);
            std::fs::write(&path, [0x5au8; 4096]).unwrap();
            let error = decode_file(&path).unwrap_err().to_string();
            assert!(
                error.contains(name) && error.contains("not a readable"),
                "{error}"
            );
        }
        let error = decode_file(Path::new("song.aiff")).unwrap_err().to_string();
        assert!(error.contains("unknown audio file type"), "{error}");
    }

    #[test]
    fn audio_files_are_found_below_folders() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for name in ["b.wav", "sub/a.MP3", "notes.txt", "tune.abc"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let found: Vec<PathBuf> = find_audio_files(dir.path())
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            found,
            vec![dir.path().join("b.wav"), dir.path().join("sub/a.MP3")]
        );
    }
}
