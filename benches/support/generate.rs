//! Generated policies for scale benchmarks: `tiers` tiers × `features` features × `limits`
//! limits, shaped like real plans: a few public base tiers, and many contract tiers that
//! extend them (at most a few levels deep) and change a handful of things each.

/// The text of a generated policy. Deterministic: the same arguments give the same text.
pub fn policy(tiers: usize, features: usize, limits: usize) -> String {
    let mut text = format!("policy \"generated-{tiers}x{features}x{limits}\" version \"1\"\n\n");
    for f in 0..features {
        text += &format!("feature f{f} \"Feature number {f}\"\n");
    }
    text.push('\n');
    for l in 0..limits {
        let (ty, kind) = match l % 5 {
            0 => ("count", " gauge"),
            1 => ("count", " per day"),
            2 => ("count", " per month"),
            3 => ("bytes", ""),
            _ => ("duration", ""),
        };
        text += &format!("limit l{l} : {ty}{kind}\n");
    }
    text += "\nsetting sla : percent\nsetting support : duration prefer lower\n\n";
    let unit = |l: usize| match l % 5 {
        3 => " MiB",
        4 => " days",
        _ => "",
    };
    // Ten base tiers form the public ladder; each grants a slice of the features below the
    // contract pool, and inherits the slices below it. The top tenth of the features is the
    // pool contract tiers grant from, so that their grants add something.
    let bases = tiers.min(10);
    let pool_start = if tiers > bases { features * 9 / 10 } else { features };
    let pool = (features - pool_start).max(3);
    text += &format!("ladder {}\n\n", (0..bases).map(|t| format!("t{t}")).collect::<Vec<_>>().join(" < "));
    for t in 0..tiers {
        if t < bases {
            let extends = if t == 0 { String::new() } else { format!(" extends t{}", t - 1) };
            text += &format!("tier t{t}{extends} {{\n");
            let granted: Vec<String> = (0..pool_start).filter(|f| f % bases == t).map(|f| format!("f{f}")).collect();
            for chunk in granted.chunks(16) {
                text += &format!("    grant {}\n", chunk.join(", "));
            }
            for l in 0..limits {
                text += &format!("    limit l{l} = {}{}\n", (t + 1) * 1_000 + l, unit(l));
            }
            text += &format!("    set sla = {}%\n    set support = {} h\n}}\n", 90 + t, 48 - t);
        } else {
            // Contract tiers: extend a base or an earlier contract (keeping chains short),
            // grant a few extra features, one by rollout, and raise a few limits.
            let parent = if t % 3 == 0 && t >= 2 * bases { t - bases } else { t % bases };
            text += &format!("tier t{t} extends t{parent} {{\n");
            // Three consecutive pool features, so the picks are distinct by construction.
            let first = pool_start + (t * 3) % (pool - 2);
            text += &format!("    grant f{}, f{}\n", first, first + 1);
            text += &format!("    grant f{} rollout {}%\n", first + 2, t % 100);
            for k in 0..limits.min(10) {
                let l = (t + k * 11) % limits;
                text += &format!("    limit l{l} = {}{} warn at 80%\n", 100_000 + t * 10 + k, unit(l));
            }
            text += "}\n";
        }
    }
    text += "\naddon boost for t0 {\n    limit l1 += 1_000\n    limit l2 = 50_000\n}\n";
    // Two features only the top base tiers grant, so the add-on gives `t1` and `t2` something.
    text += &format!(
        "addon extras for t1, t2 {{\n    grant f{}, f{}\n    valid from 2026-01-01 until 2027-01-01\n}}\n",
        pool_start - 2,
        pool_start - 1
    );
    if pool_start < features {
        let pack: Vec<String> = (pool_start..features).map(|f| format!("f{f}")).collect();
        text += &format!("addon feature_pack for t0 {{\n    grant {}\n}}\n", pack.join(", "));
    }
    text
}
