//! EAL core lists, parsed the way DPDK 22.11 parses them, so that `check`
//! refuses what `rte_eal_init` would refuse: `-l 0-3,5` (a core list),
//! `--lcores (0-2)@(0-1),3@2` (lcores floated over CPU sets) and `-c 0xf`
//! (a hexadecimal mask).

use std::collections::BTreeSet;

/// What a core option asks EAL for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lcores {
    /// The lcore ids (the lowest is the main, i.e. control, lcore).
    pub lcores: BTreeSet<u32>,
    /// The CPUs they run on.
    pub cpus: BTreeSet<u32>,
    /// True when some lcore runs on a CPU set given with `@` rather than on
    /// the CPU of its own number.
    pub floated: bool,
}

impl Lcores {
    fn pinned(lcores: BTreeSet<u32>) -> Lcores {
        Lcores {
            cpus: lcores.clone(),
            lcores,
            floated: false,
        }
    }

    /// Checks the ids against DPDK's `RTE_MAX_LCORE` and the CPUs against
    /// `allowed` (the CPUs this process may run on; `None`: do not check).
    pub fn check(&self, max_lcore: u32, allowed: Option<&BTreeSet<u32>>) -> Result<(), String> {
        if let Some(l) = self.lcores.last().filter(|l| **l >= max_lcore) {
            return Err(format!(
                "lcore {l} is not below RTE_MAX_LCORE ({max_lcore}) of this DPDK build"
            ));
        }
        if let Some(allowed) = allowed {
            if let Some(c) = self.cpus.iter().find(|c| !allowed.contains(c)) {
                let what = if self.floated { "CPU" } else { "lcore (= CPU)" };
                return Err(format!(
                    "{what} {c} is not a CPU this machine lets glbpd run on (CPUs {list}); \
                     lcores can float over CPUs: \"(0-{})@({list})\"",
                    self.lcores.len().max(1) - 1,
                    list = format_list(allowed)
                ));
            }
        }
        Ok(())
    }
}

fn number(s: &str) -> Result<u32, String> {
    let t = s.trim_matches([' ', '\t']);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{s:?} is not a number"));
    }
    t.parse()
        .map_err(|_| format!("{t} is too large for a CPU or lcore id"))
}

/// Ids above this are refused while parsing (before a range is expanded);
/// [`Lcores::check`] then holds them to `RTE_MAX_LCORE` and the CPUs.
const MAX_ID: u32 = 1 << 16;

/// `N` or `N-M` (either order, as EAL accepts), added to `out`.
fn range(s: &str, out: &mut BTreeSet<u32>) -> Result<(), String> {
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (number(a)?, number(b)?),
        None => {
            let n = number(s)?;
            (n, n)
        }
    };
    let (lo, hi) = (a.min(b), a.max(b));
    if hi > MAX_ID {
        return Err(format!("{hi} is too large for a CPU or lcore id"));
    }
    out.extend(lo..=hi);
    Ok(())
}

/// `-l`: `0-3,5`.
pub fn parse_corelist(s: &str) -> Result<Lcores, String> {
    let mut set = BTreeSet::new();
    for item in s.split(',') {
        range(item, &mut set).map_err(|e| format!("core list {s:?}: {e}"))?;
    }
    Ok(Lcores::pinned(set))
}

/// `-c`: a hexadecimal mask, `0xf` or `f`.
pub fn parse_coremask(s: &str) -> Result<Lcores, String> {
    let t = s.trim();
    let hex = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("core mask {s:?} is not hexadecimal"));
    }
    let mut set = BTreeSet::new();
    for (i, c) in hex.bytes().rev().enumerate() {
        let v = (c as char).to_digit(16).unwrap_or(0);
        for bit in 0..4 {
            if v & (1 << bit) != 0 {
                set.insert((i * 4 + bit) as u32);
            }
        }
    }
    if set.is_empty() {
        return Err(format!("core mask {s:?} selects no core"));
    }
    Ok(Lcores::pinned(set))
}

/// Splits at commas outside parentheses.
fn split_top(s: &str) -> Result<Vec<&str>, String> {
    let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if !(0..=1).contains(&depth) {
            return Err("unbalanced or nested parentheses".into());
        }
    }
    if depth != 0 {
        return Err("unbalanced parentheses".into());
    }
    out.push(&s[start..]);
    Ok(out)
}

/// A set: `(list)` or `N`, and for lcores also `N-M`.
fn set(s: &str, allow_range: bool) -> Result<BTreeSet<u32>, String> {
    let mut out = BTreeSet::new();
    let t = s.trim();
    if let Some(inner) = t.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        for item in inner.split(',') {
            range(item, &mut out)?;
        }
    } else if allow_range {
        range(t, &mut out)?;
    } else {
        out.insert(number(t)?);
    }
    Ok(out)
}

/// `--lcores`: `1,2@(5-7),(3-5)@(0,2),(0,6),7-8`.
pub fn parse_lcores(s: &str) -> Result<Lcores, String> {
    let ctx = |e: String| format!("lcore map {s:?}: {e}");
    let mut all = Lcores {
        lcores: BTreeSet::new(),
        cpus: BTreeSet::new(),
        floated: false,
    };
    for element in split_top(s).map_err(ctx)? {
        let (lc, cpus) = match element.split_once('@') {
            Some((l, c)) => (
                set(l, true).map_err(ctx)?,
                Some(set(c, false).map_err(ctx)?),
            ),
            None => (set(element, true).map_err(ctx)?, None),
        };
        if let Some(dup) = lc.iter().find(|l| all.lcores.contains(l)) {
            return Err(ctx(format!("lcore {dup} is given twice")));
        }
        match cpus {
            Some(c) => {
                all.floated = true;
                all.cpus.extend(c);
            }
            None => all.cpus.extend(lc.iter().copied()),
        }
        all.lcores.extend(lc);
    }
    Ok(all)
}

/// `eal.lcores`: a `--lcores` map when it floats lcores (`@` or
/// parentheses), else a `-l` core list.
pub fn is_lcore_map(s: &str) -> bool {
    s.contains(['@', '('])
}

/// Parses `eal.lcores` as [`is_lcore_map`] decides.
pub fn parse_config_lcores(s: &str) -> Result<Lcores, String> {
    if is_lcore_map(s) {
        parse_lcores(s)
    } else {
        parse_corelist(s)
    }
}

/// The core option in EAL arguments (`-l`, `-c`, `--lcores`, joined or
/// separate): `(index of its value, parsed)`; `None` when there is none.
pub fn from_args(args: &[String]) -> Option<(usize, Result<Lcores, String>)> {
    let mut found = None;
    for (i, a) in args.iter().enumerate() {
        let next = || args.get(i + 1).map(String::as_str).unwrap_or("");
        let at = (i + 1).min(args.len() - 1);
        let parsed = match a.as_str() {
            "-l" => (at, parse_corelist(next())),
            "-c" => (at, parse_coremask(next())),
            "--lcores" => (at, parse_lcores(next())),
            x if x.starts_with("--lcores=") => (i, parse_lcores(&x["--lcores=".len()..])),
            x if x.starts_with("-l") && !x.starts_with("--") => (i, parse_corelist(&x[2..])),
            x if x.starts_with("-c") && !x.starts_with("--") => (i, parse_coremask(&x[2..])),
            _ => continue,
        };
        found = Some(parsed);
    }
    found
}

/// The CPUs this process may run on (its affinity mask); `None` when it
/// cannot be read. Read once, by the first caller: glbpd checks its
/// configuration before EAL starts, and EAL then pins every thread to its
/// lcore's CPUs, so a later read (a reload, on a thread pinned to the
/// control lcore's CPU) would see one CPU and refuse the running lcores.
pub fn allowed_cpus() -> Option<BTreeSet<u32>> {
    static AT_START: std::sync::OnceLock<Option<BTreeSet<u32>>> = std::sync::OnceLock::new();
    AT_START
        .get_or_init(|| {
            let set = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).ok()?;
            let cpus: BTreeSet<u32> = (0..nix::sched::CpuSet::count())
                .filter(|i| set.is_set(*i).unwrap_or(false))
                .map(|i| i as u32)
                .collect();
            (!cpus.is_empty()).then_some(cpus)
        })
        .clone()
}

/// `0-3,6`: a set as a core list.
pub fn format_list(set: &BTreeSet<u32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(lo) = iter.next() {
        let mut hi = lo;
        while iter.peek() == Some(&(hi + 1)) {
            hi += 1;
            iter.next();
        }
        parts.push(if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}-{hi}")
        });
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(l: &Lcores) -> Vec<u32> {
        l.lcores.iter().copied().collect()
    }

    #[test]
    fn core_lists() {
        assert_eq!(ids(&parse_corelist("0-3,5").unwrap()), [0, 1, 2, 3, 5]);
        assert_eq!(ids(&parse_corelist("3-1").unwrap()), [1, 2, 3]);
        assert_eq!(ids(&parse_corelist(" 2 ").unwrap()), [2]);
        for bad in ["", "a", "1-", "-1", "1,,2", "1-2-3", "0-99999999999", "1@2"] {
            assert!(parse_corelist(bad).is_err(), "{bad:?}");
        }
        let l = parse_corelist("0-4000000000");
        assert!(l.is_err(), "a huge range is refused before expanding");
        let e = parse_corelist("0-9999")
            .unwrap()
            .check(128, None)
            .unwrap_err();
        assert!(
            e.contains("lcore 9999 is not below RTE_MAX_LCORE (128)"),
            "{e}"
        );
    }

    #[test]
    fn lcore_maps() {
        let l = parse_lcores("(0-2)@(0-1)").unwrap();
        assert_eq!(ids(&l), [0, 1, 2]);
        assert_eq!(l.cpus.iter().copied().collect::<Vec<_>>(), [0, 1]);
        assert!(l.floated);
        // The example of DPDK's documentation.
        let l = parse_lcores("1,2@(5-7),(3-5)@(0,2),(0,6),7-8").unwrap();
        assert_eq!(ids(&l), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            l.cpus.iter().copied().collect::<Vec<_>>(),
            [0, 1, 2, 5, 6, 7, 8]
        );
        for bad in ["(0-1", "0@", "@1", "((1))", "0@1-2", "x", "1,(0-1)@2"] {
            assert!(parse_lcores(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn masks_and_args() {
        assert_eq!(ids(&parse_coremask("0x13").unwrap()), [0, 1, 4]);
        assert!(parse_coremask("0x0").is_err());
        assert!(parse_coremask("zz").is_err());
        let args: Vec<String> = ["--no-pci", "-l", "0-2"].map(String::from).to_vec();
        let (i, l) = from_args(&args).unwrap();
        assert_eq!((i, ids(&l.unwrap())), (2, vec![0, 1, 2]));
        let args: Vec<String> = ["--lcores=(0-3)@0"].map(String::from).to_vec();
        assert_eq!(ids(&from_args(&args).unwrap().1.unwrap()), [0, 1, 2, 3]);
        let args: Vec<String> = ["--log-level", "lib.eal:debug"].map(String::from).to_vec();
        assert!(from_args(&args).is_none());
    }

    #[test]
    fn limits() {
        let allowed: BTreeSet<u32> = [0, 1].into();
        assert!(parse_corelist("0-1")
            .unwrap()
            .check(128, Some(&allowed))
            .is_ok());
        let e = parse_corelist("0-2").unwrap().check(128, Some(&allowed));
        assert!(e.unwrap_err().contains("lcore (= CPU) 2 is not a CPU"));
        let e = parse_corelist("0,200").unwrap().check(128, None);
        assert!(e.unwrap_err().contains("RTE_MAX_LCORE"));
        // Floated: the lcore ids may exceed the CPUs, the CPU set may not.
        assert!(parse_lcores("(0-7)@(0-1)")
            .unwrap()
            .check(128, Some(&allowed))
            .is_ok());
        assert!(parse_lcores("(0-7)@(0-2)")
            .unwrap()
            .check(128, Some(&allowed))
            .is_err());
        assert_eq!(format_list(&[0, 1, 2, 5, 7, 8].into()), "0-2,5,7-8");
    }
}
