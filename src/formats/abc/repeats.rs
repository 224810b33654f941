//! The order a tune is played in: repeats and first/second endings unrolled.
//!
//! At `:|` the music goes back to the last `|:` (or, without one, to the last double bar or the
//! start of the tune) and plays the section again; on that pass an ending that is not numbered for
//! it (`[1` on the second pass) is skipped up to its `:|`, double bar, `|:` or the next ending.
//! A `:|` that closes an ending with no other ending after it does not send the music back (no
//! pass would have an ending to play). Every `:|` sends the music back at most once, so even a
//! malformed structure ends, and the output is capped besides.

use super::interpret::Item;
use super::lexer::BarLine;

/// Indices into `items` in playing order.
pub(super) fn play_order(items: &[Item]) -> Vec<usize> {
    let mut player = Player {
        items,
        order: Vec::with_capacity(2 * items.len()),
        jumped_from: vec![false; items.len()],
        repeat_start: None,
        section_start: 0,
        pass: 1,
        in_ending: false,
    };
    let limit = 8 * items.len() + 64;
    let mut i = 0;
    while i < items.len() && player.order.len() < limit {
        i = match &items[i] {
            Item::Bar(bar) => player.bar(i, *bar),
            Item::Ending(passes) => player.ending(i, passes),
            _ => player.play(i),
        };
    }
    player.order
}

struct Player<'a> {
    items: &'a [Item],
    order: Vec<usize>,
    /// Which `:|` have already sent the music back.
    jumped_from: Vec<bool>,
    /// Just after the `|:` of the current section, if it has one.
    repeat_start: Option<usize>,
    /// Just after the last double bar or finished repeat.
    section_start: usize,
    /// 1 the first time through a section, 2 after its `:|`, …
    pass: u32,
    /// Whether an ending is being played.
    in_ending: bool,
}

impl Player<'_> {
    /// Plays item `i`; returns the next one.
    fn play(&mut self, i: usize) -> usize {
        self.order.push(i);
        i + 1
    }

    fn bar(&mut self, i: usize, bar: BarLine) -> usize {
        if bar.repeat_end {
            let another_ending_follows = !self.in_ending || self.ending_follows(i + 1);
            if !self.jumped_from[i] && another_ending_follows {
                self.jumped_from[i] = true;
                self.pass += 1;
                self.in_ending = false;
                return self.repeat_start.unwrap_or(self.section_start);
            }
            // Played through: the repeated section is over.
            self.repeat_start = None;
            self.start_section(i + 1);
        }
        if bar.double {
            self.start_section(i + 1);
        }
        if bar.repeat_start {
            self.repeat_start = Some(i + 1);
            self.start_section(i + 1);
        }
        self.play(i)
    }

    fn start_section(&mut self, at: usize) {
        self.section_start = at;
        self.pass = 1;
        self.in_ending = false;
    }

    /// On a repeat, skips an ending that is not for this pass. (On the first pass nothing is
    /// skipped: an ending there with no repeat before it is a typo, not a reason to lose bars.)
    fn ending(&mut self, i: usize, passes: &[u32]) -> usize {
        if self.pass > 1 && !passes.contains(&self.pass) {
            return self.end_of_ending(i + 1);
        }
        self.in_ending = true;
        self.play(i)
    }

    /// Where the ending whose bars start at `from` stops: just past its `:|` (which, skipped,
    /// sends nothing back), or at a double bar, a `|:` or the next ending.
    fn end_of_ending(&mut self, from: usize) -> usize {
        for (i, item) in self.items.iter().enumerate().skip(from) {
            match item {
                Item::Bar(bar) if bar.repeat_end => {
                    self.jumped_from[i] = true;
                    return i + 1;
                }
                Item::Bar(bar) if bar.double || bar.repeat_start => return i,
                Item::Ending(_) => return i,
                _ => {}
            }
        }
        self.items.len()
    }

    /// Whether another ending comes before the section ends.
    fn ending_follows(&self, from: usize) -> bool {
        for item in &self.items[from..] {
            match item {
                Item::Ending(_) => return true,
                Item::Bar(bar) if bar.double || bar.repeat_start => return false,
                _ => {}
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::abc::interpret::Sound;
    use crate::formats::abc::lexer::BarLine;

    /// Items from a compact notation: a letter is a sound (its pitch the letter's code), `|` a
    /// bar, `|:` `:|` `::` `||` repeats and double bars, a digit an ending.
    fn items(text: &str) -> Vec<Item> {
        text.split_whitespace()
            .map(|word| match word {
                "|" => Item::Bar(BarLine::default()),
                "||" => Item::Bar(BarLine {
                    double: true,
                    ..BarLine::default()
                }),
                "|:" => Item::Bar(BarLine {
                    repeat_start: true,
                    ..BarLine::default()
                }),
                ":|" => Item::Bar(BarLine {
                    repeat_end: true,
                    ..BarLine::default()
                }),
                "::" => Item::Bar(BarLine {
                    repeat_end: true,
                    repeat_start: true,
                    double: false,
                }),
                _ if word.starts_with(|c: char| c.is_ascii_digit()) => {
                    Item::Ending(word.split(',').map(|n| n.parse().unwrap()).collect())
                }
                _ => Item::Sound(Sound {
                    pitch: Some(word.as_bytes()[0]),
                    duration: 1.0,
                    tied: false,
                }),
            })
            .collect()
    }

    fn played(text: &str) -> String {
        let items = items(text);
        play_order(&items)
            .into_iter()
            .filter_map(|i| match &items[i] {
                Item::Sound(s) => s.pitch.map(char::from),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn simple_repeats() {
        assert_eq!(played("|: a b :| c"), "ababc");
        assert_eq!(played("a b :| c"), "ababc", "no |: repeats from the start");
        assert_eq!(played("a || b :| c"), "abbc", "or from the last double bar");
        assert_eq!(played("|: a || b :| c"), "ababc", "but |: comes first");
        assert_eq!(played("|: a :: b :| c"), "aabbc");
        assert_eq!(played("|: a :| b :| c"), "aabbc");
    }

    #[test]
    fn endings() {
        assert_eq!(played("|: a | 1 b :| 2 c || d"), "abacd");
        assert_eq!(played("|: a | 1 b | x :| 2 c | y || d"), "abxacyd");
        assert_eq!(played("|: a 1 b :| 2 c :| 3 d || e"), "abacade");
        // Each `:|` goes back once, so a third pass never comes: ending 3 just follows.
        assert_eq!(played("|: a 1,2 b :| 3 c || d"), "ababcd");
        assert_eq!(played("a 1 b :| 2 c |: d :| e"), "abacdde");
        assert_eq!(
            played("|: a 1 b :| 2 c :| d"),
            "abacd",
            "the last ending's :| is no repeat"
        );
    }

    #[test]
    fn malformed_structures_end() {
        assert_eq!(played(":| :| :| a :|"), "aa");
        assert_eq!(
            played("2 a 1 b"),
            "ab",
            "endings without a repeat are all played"
        );
        assert_eq!(played("|: 1 a :| 1 b :| 2 c"), "ac");
        let many = "|: a :| ".repeat(500);
        assert_eq!(played(&many).len(), 1000);
    }
}
