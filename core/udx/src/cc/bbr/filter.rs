//! A windowed maximum (Kathleen Nichols' algorithm, as Linux `win_minmax` and libudx
//! `win_filter_f64` have it): the best, second-best and third-best samples of the last
//! `win` time units, so that the maximum over the window is known in constant space.

/// One sample and when it was taken.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Entry {
    t: u64,
    v: f64,
}

/// The running maximum of samples over a window of time units (BBR uses round trips).
#[derive(Debug, Clone, Default)]
pub(crate) struct MaxFilter {
    e: [Entry; 3],
}

impl MaxFilter {
    /// The maximum of the window.
    pub fn get(&self) -> f64 {
        self.e[0].v
    }

    /// Forgets everything but `v`, taken at `t`.
    pub fn reset(&mut self, t: u64, v: f64) {
        self.e = [Entry { t, v }; 3];
    }

    /// Adds `v`, taken at `t`, to a window of `win` time units.
    pub fn apply(&mut self, win: u64, t: u64, v: f64) {
        let new = Entry { t, v };
        // A new maximum, or nothing left in the window.
        if v >= self.e[0].v || t.wrapping_sub(self.e[2].t) > win {
            self.reset(t, v);
            return;
        }
        if v >= self.e[1].v {
            self.e[2] = new;
            self.e[1] = new;
        } else if v >= self.e[2].v {
            self.e[2] = new;
        }
        let dt = t.wrapping_sub(self.e[0].t);
        if dt > win {
            // The best sample left the window: the next best take its place.
            self.e = [self.e[1], self.e[2], new];
            if t.wrapping_sub(self.e[0].t) > win {
                self.e = [self.e[1], self.e[2], new];
            }
        } else if self.e[1].t == self.e[0].t && dt > win / 4 {
            // A quarter of the window passed with no second best: take one.
            self.e[2] = new;
            self.e[1] = new;
        } else if self.e[2].t == self.e[1].t && dt > win / 2 {
            self.e[2] = new;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maximum_over_the_last_window() {
        let mut f = MaxFilter::default();
        f.reset(0, 0.0);
        f.apply(10, 1, 5.0);
        f.apply(10, 5, 3.0);
        f.apply(10, 8, 2.0);
        f.apply(10, 11, 1.0);
        // The 5.0 of round 1 is 10 rounds old: still in the window.
        assert_eq!(f.get(), 5.0);
        // Round 12: it left; the second best (3.0, round 5) is the maximum.
        f.apply(10, 12, 1.0);
        assert_eq!(f.get(), 3.0);
        f.apply(10, 16, 1.0);
        assert_eq!(f.get(), 2.0);
        // A bigger sample is the maximum at once.
        f.apply(10, 17, 9.0);
        assert_eq!(f.get(), 9.0);
        // Much later everything expired: the new sample is the maximum.
        f.apply(10, 40, 0.5);
        assert_eq!(f.get(), 0.5);
    }
}
