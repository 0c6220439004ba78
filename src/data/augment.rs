//! Training augmentation: random crop with zero padding and horizontal flip.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Standard CIFAR training augmentation (applied on the host, before any attack).
///
/// ```
/// use advcal::data::Augmentation;
/// let aug = Augmentation::cifar();
/// assert_eq!(aug.padding, 4);
/// assert!(aug.horizontal_flip);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Augmentation {
    /// Zero padding on every side before a random crop back to the original size (0 = no crop).
    pub padding: usize,
    /// Flip left-right with probability ½.
    pub horizontal_flip: bool,
}

impl Augmentation {
    /// Random crop 32 with 4-pixel zero padding + horizontal flip.
    pub fn cifar() -> Self {
        Self {
            padding: 4,
            horizontal_flip: true,
        }
    }

    /// Writes the augmented `src` image (`C × H × W`) into `dst`.
    pub fn apply<R: Rng>(&self, src: &[u8], [c, h, w]: [usize; 3], rng: &mut R, dst: &mut [u8]) {
        let p = self.padding as i64;
        let (dy, dx) = if p > 0 {
            (rng.random_range(-p..=p), rng.random_range(-p..=p))
        } else {
            (0, 0)
        };
        let flip = self.horizontal_flip && rng.random_bool(0.5);
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    let sx = if flip { w - 1 - x } else { x } as i64 + dx;
                    let sy = y as i64 + dy;
                    let v = if sy >= 0 && sx >= 0 && (sy as usize) < h && (sx as usize) < w {
                        src[(ch * h + sy as usize) * w + sx as usize]
                    } else {
                        0
                    };
                    dst[(ch * h + y) * w + x] = v;
                }
            }
        }
    }
}
