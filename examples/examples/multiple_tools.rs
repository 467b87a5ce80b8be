//! Several tools in one toolkit, with typed parameters of every kind:
//! numbers, lists, enums and structs (their JSON Schema is derived with
//! `schemars`), optional and defaulted parameters.
//!
//! ```text
//! cargo run -p atp-dev -- cargo run --example multiple_tools
//! cargo run -p atp-dev -- call stats 'numbers=[1, 2, 3.5]'
//! cargo run -p atp-dev -- call convert_temperature value=100 from=celsius to=fahrenheit
//! ```

use atp_sdk::atp_tool;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Adds two numbers.
#[atp_tool]
fn add(a: f64, b: f64) -> f64 {
    a + b
}

/// Summary statistics of a list of numbers.
#[derive(Debug, Serialize)]
struct Stats {
    count: usize,
    mean: f64,
    min: f64,
    max: f64,
}

/// Computes summary statistics of a list of numbers.
#[atp_tool]
fn stats(
    /// The numbers (at least one).
    numbers: Vec<f64>,
) -> Result<Stats, String> {
    if numbers.is_empty() {
        return Err("give at least one number".to_owned());
    }
    let sum: f64 = numbers.iter().sum();
    Ok(Stats {
        count: numbers.len(),
        mean: sum / numbers.len() as f64,
        min: numbers.iter().copied().fold(f64::INFINITY, f64::min),
        max: numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

/// A temperature scale.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Unit {
    Celsius,
    Fahrenheit,
    Kelvin,
}

/// Converts a temperature between scales.
#[atp_tool]
fn convert_temperature(value: f64, from: Unit, to: Unit) -> f64 {
    let celsius = match from {
        Unit::Celsius => value,
        Unit::Fahrenheit => (value - 32.0) * 5.0 / 9.0,
        Unit::Kelvin => value - 273.15,
    };
    match to {
        Unit::Celsius => celsius,
        Unit::Fahrenheit => celsius * 9.0 / 5.0 + 32.0,
        Unit::Kelvin => celsius + 273.15,
    }
}

/// A search filter.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
struct Filter {
    /// Only items in this category.
    category: Option<String>,
    /// Only items cheaper than this.
    max_price: Option<f64>,
}

/// Searches a (tiny, built-in) catalogue.
///
/// Only `query` is required; `limit` and `filter` take their defaults.
#[atp_tool(required = ["query"])]
fn search_catalogue(query: String, limit: usize, filter: Filter) -> Vec<String> {
    const ITEMS: &[(&str, &str, f64)] = &[
        ("red kettle", "kitchen", 25.0),
        ("blue kettle", "kitchen", 40.0),
        ("red chair", "furniture", 80.0),
    ];
    let limit = if limit == 0 { 10 } else { limit };
    ITEMS
        .iter()
        .filter(|(name, _, _)| name.contains(&query))
        .filter(|(_, category, _)| filter.category.as_deref().is_none_or(|c| c == *category))
        .filter(|(_, _, price)| filter.max_price.is_none_or(|max| *price <= max))
        .take(limit)
        .map(|(name, _, _)| (*name).to_owned())
        .collect()
}

fn main() -> Result<(), atp_sdk::Error> {
    atp_sdk::run()
}
