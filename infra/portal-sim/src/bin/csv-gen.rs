//! `csv-gen`: writes a large, realistic passed-learner CSV for one agency.
//!
//! ```text
//! csv-gen ROWS OUT.csv [--big5] [--agency 376550000A] [--until 2015-12-31] [--seed 2016]
//! ```

use portal_sim::csv_file::{CsvEncoding, write_csv};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let (Some(rows), Some(out)) = (
        args.first().and_then(|r| r.parse::<u64>().ok()),
        args.get(1),
    ) else {
        eprintln!(
            "usage: csv-gen ROWS OUT.csv [--big5] [--agency CODE] [--until YYYY-MM-DD] [--seed N]"
        );
        std::process::exit(2);
    };
    let encoding = if args.iter().any(|a| a == "--big5") {
        CsvEncoding::Big5
    } else {
        CsvEncoding::Utf8Bom
    };
    let agency = value("--agency").unwrap_or_else(|| "376550000A".into());
    let until = value("--until")
        .unwrap_or_else(|| "2015-12-31".into())
        .parse()?;
    let seed = value("--seed").map_or(Ok(2016), |s| s.parse())?;
    let file = std::io::BufWriter::new(std::fs::File::create(out)?);
    write_csv(
        file,
        rows,
        encoding,
        (&agency, "範例機關人事室"),
        until,
        seed,
    )?;
    Ok(())
}
