//! The sampler runs on the audio thread, so `Sampler::sample` must never allocate. A counting
//! global allocator proves it: allocations are counted per thread, so the test harness's own
//! threads cannot disturb the count.

use cantus::engine::sampler::{Sampler, SamplingSettings, melody_mask};
use cantus::music::melody::VOCAB_SIZE;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;

#[test]
fn sample_never_allocates() {
    let logits: Vec<f32> = (0..VOCAB_SIZE)
        .map(|t| ((t * 37 % 11) as f32 - 5.0) * 0.4)
        .collect();
    let mut c_major = [false; 12];
    for pc in [0, 2, 4, 5, 7, 9, 11] {
        c_major[pc] = true;
    }
    let mask = melody_mask(c_major, 55, 79);
    let nothing = vec![false; VOCAB_SIZE];
    let every_feature = SamplingSettings {
        temperature: 0.8,
        top_k: 20,
        top_p: 0.9,
        greedy: false,
        confidence: Some((1.2, 0.4)),
        density: 0.5,
        repetition_penalty: 1.5,
    };
    let cases: [(SamplingSettings, Option<&[bool]>); 5] = [
        (SamplingSettings::default(), None),
        (every_feature, Some(&mask)),
        (every_feature, Some(&nothing)),
        (
            SamplingSettings {
                greedy: true,
                ..every_feature
            },
            Some(&mask),
        ),
        (
            SamplingSettings {
                top_p: 1.0,
                ..every_feature
            },
            None,
        ),
    ];
    let mut sampler = Sampler::new(VOCAB_SIZE, 1).with_melody_events(true);
    for (settings, allowed) in cases {
        for _ in 0..10 {
            sampler.sample(&logits, allowed, &settings);
        }
        let before = allocations();
        let mut checksum = 0u64;
        for _ in 0..10_000 {
            checksum += u64::from(sampler.sample(&logits, allowed, &settings));
            sampler.observe(30);
        }
        let during = allocations() - before;
        assert_eq!(during, 0, "{settings:?}: {during} allocations");
        assert!(checksum > 0);
    }
    // The counter works: an allocation is seen.
    let before = allocations();
    drop(std::hint::black_box(vec![0u8; 64]));
    assert!(allocations() > before);
}
