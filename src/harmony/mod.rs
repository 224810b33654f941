//! Four-part harmony in the style of Bach's chorales, after DeepBach (Hadjeres et al., 2017):
//! given a soprano (or any voices), fill in the others.
//!
//! * [`voices`]: each voice's range, and a melody made fit to be a soprano;
//! * [`io`]: reading what to harmonise from MIDI or ABC, writing the four voices as MIDI;
//! * [`metrics`]: voice-leading counts (parallel fifths and octaves, crossings, range);
//! * [`data`]: training examples from the chorales, transposed within each voice's range;
//! * [`model`]: the network: per voice, past and future context (recurrent, one each way) and the
//!   other voices at the present step;
//! * [`train`]: training it;
//! * [`fast`]: the network on the CPU's vector kernels, for sampling;
//! * [`gibbs`]: pseudo-Gibbs sampling, one voice-step at a time, with annealed temperature;
//! * [`live`]: the causal heads, one chord at a time under a soprano being played;
//! * [`harmonize`] and [`evaluate`]: what `cantus harmonize` and `cantus eval --harmony` do.

pub mod data;
pub mod evaluate;
pub mod fast;
pub mod gibbs;
pub mod harmonize;
pub mod io;
pub mod live;
pub mod metrics;
pub mod model;
pub mod train;
pub mod voices;
