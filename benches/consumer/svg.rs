//! The latency histogram of `make bench`, as SVG.

/// A latency histogram (log-scale buckets from 0.1 ms to 10 s), one series per mode, as SVG.
pub(crate) fn histogram_svg(series: &[(&str, &[f64])]) -> String {
    const BUCKETS: usize = 50;
    let (low, high) = (0.1_f64.log10(), 10_000_f64.log10());
    let bucket = |ms: f64| {
        (((ms.max(0.1).log10() - low) / (high - low)) * BUCKETS as f64)
            .clamp(0.0, (BUCKETS - 1) as f64) as usize
    };
    let counts: Vec<Vec<usize>> = series
        .iter()
        .map(|(_, latencies)| {
            let mut counts = vec![0; BUCKETS];
            for ms in *latencies {
                counts[bucket(*ms)] += 1;
            }
            counts
        })
        .collect();
    let tallest = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let (width, height, left, bottom) = (900.0, 420.0, 60.0, 50.0);
    let plot_w = width - left - 20.0;
    let plot_h = height - bottom - 40.0;
    let colours = ["#1f77b4", "#ff7f0e", "#2ca02c"];
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">Latency per event (log scale), events per bucket</text>\n",
        width / 2.0
    );
    let bar_w = plot_w / BUCKETS as f64 / series.len().max(1) as f64;
    for (s, counts) in counts.iter().enumerate() {
        for (b, count) in counts.iter().enumerate() {
            if *count == 0 {
                continue;
            }
            let h = *count as f64 / tallest * plot_h;
            let x = left + b as f64 * plot_w / BUCKETS as f64 + s as f64 * bar_w;
            svg += &format!(
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{count}</title></rect>\n",
                height - bottom - h,
                bar_w.max(1.0),
                colours[s % colours.len()]
            );
        }
    }
    for exponent in -1..=4 {
        let ms = 10_f64.powi(exponent);
        let x = left + ((ms.log10() - low) / (high - low)) * plot_w;
        let label = if ms < 1.0 {
            format!("{ms} ms")
        } else {
            format!("{ms:.0} ms")
        };
        svg += &format!(
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#999\"/>\n<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>\n",
            height - bottom,
            height - bottom + 6.0,
            height - bottom + 20.0
        );
    }
    svg += &format!(
        "<line x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\"/>\n<text x=\"14\" y=\"{:.1}\" transform=\"rotate(-90 14 {:.1})\" text-anchor=\"middle\">events (tallest bucket {tallest:.0})</text>\n",
        height - bottom,
        width - 20.0,
        height - bottom,
        height / 2.0,
        height / 2.0
    );
    for (s, (name, latencies)) in series.iter().enumerate() {
        let y = 44.0 + s as f64 * 18.0;
        svg += &format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{y:.1}\">{name} ({} events)</text>\n",
            width - 380.0,
            y - 10.0,
            colours[s % colours.len()],
            width - 362.0,
            latencies.len()
        );
    }
    svg + "</svg>\n"
}
