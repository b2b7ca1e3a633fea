"""Writes customers.csv: the churn team's data, synthetic, generated once with a fixed seed.

Each row is a customer of a made-up subscription service: its plan and region (categories),
months since sign-up, monthly charges and support calls in the last quarter (numbers), and
whether it cancelled (`churned`: yes or no). Churn is drawn from a logistic model of those
columns (basic plans, many support calls and new customers churn more), so a classifier has
something real to learn and no row describes a real person.

    python training/examples/churn/make_data.py     # rewrites customers.csv, byte for byte
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240611
ROWS = 2000
OUTPUT = Path(__file__).with_name("customers.csv")
PLANS = {"basic": 0.9, "standard": 0.0, "premium": -0.7}
REGIONS = {"north": 0.0, "south": 0.35, "east": -0.1, "west": 0.1}


def customers(rows: int = ROWS, seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan = rng.choice(list(PLANS), size=rows, p=[0.45, 0.35, 0.20])
    region = rng.choice(list(REGIONS), size=rows)
    tenure_months = rng.integers(1, 73, size=rows)
    base_charge = np.select([plan == "basic", plan == "standard"], [29.0, 59.0], 99.0)
    monthly_charges = np.round(base_charge + rng.normal(0.0, 6.0, size=rows), 2)
    support_calls = rng.poisson(1.2, size=rows)
    logit = (
        -1.1
        + np.vectorize(PLANS.get)(plan)
        + np.vectorize(REGIONS.get)(region)
        + 0.45 * support_calls
        - 0.045 * tenure_months
        + 0.01 * (monthly_charges - base_charge)
    )
    churned = rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))
    return pd.DataFrame(
        {
            "plan": plan,
            "region": region,
            "tenure_months": tenure_months,
            "monthly_charges": monthly_charges,
            "support_calls": support_calls,
            "churned": np.where(churned, "yes", "no"),
        }
    )


if __name__ == "__main__":
    customers().to_csv(OUTPUT, index=False)
    print(f"wrote {ROWS} customers to {OUTPUT}")
