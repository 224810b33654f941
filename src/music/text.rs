//! Char-level text encoding (for ABC): one token per character, the vocabulary built from a corpus.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The characters a model knows, in token order (sorted, so the same corpus gives the same tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharVocab {
    chars: Vec<char>,
}

/// Text turned into tokens, with the characters the vocabulary lacks (left out of `tokens`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EncodedText {
    pub tokens: Vec<u32>,
    /// Each unknown character and how often it occurred.
    pub unknown: BTreeMap<char, usize>,
}

impl CharVocab {
    /// Every distinct character of the corpus.
    pub fn from_corpus<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut chars: Vec<char> = texts.into_iter().flat_map(str::chars).collect();
        chars.sort_unstable();
        chars.dedup();
        Self { chars }
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    pub fn token(&self, c: char) -> Option<u32> {
        self.chars.binary_search(&c).ok().map(|i| i as u32)
    }

    pub fn encode(&self, text: &str) -> EncodedText {
        let mut encoded = EncodedText::default();
        for c in text.chars() {
            match self.token(c) {
                Some(t) => encoded.tokens.push(t),
                None => *encoded.unknown.entry(c).or_default() += 1,
            }
        }
        encoded
    }

    /// The text of some tokens; `None` for a token outside the vocabulary.
    pub fn decode(&self, tokens: &[u32]) -> Option<String> {
        tokens
            .iter()
            .map(|&t| self.chars.get(t as usize).copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_decodes_and_reports_unknown_characters() {
        let vocab = CharVocab::from_corpus(["X:1\nK:G\nGAB|", "abc"]);
        assert_eq!(
            vocab.decode(&vocab.encode("GAB|abc").tokens).unwrap(),
            "GAB|abc"
        );
        let encoded = vocab.encode("GzzA");
        assert_eq!(encoded.unknown, BTreeMap::from([('z', 2)]));
        assert_eq!(vocab.decode(&encoded.tokens).unwrap(), "GA");
        assert_eq!(vocab.decode(&[vocab.len() as u32]), None);
    }
}
