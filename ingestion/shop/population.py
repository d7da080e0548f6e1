"""The demo shop's fixed populations: customers and products, and their daily snapshots.

Both populations are independent of the run date (a pure function of seed and scale); what a day sees of
them (who has signed up, current email and country, current prices) is derived from per-member change days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.shop.calendar import POPULATION_DAY, SECOND_US, date_array, day_rng, day_start_us, ts_array
from ingestion.shop.schema import shop_entities

NEVER = 10**9  # a change day that never comes

CUSTOMERS_PER_SCALE = 5_000
SIGNUP_DAYS = (-730, 365)  # signups spread over the two years before EPOCH and the first year after it
PROFILE_CHANGE_SHARE = 0.3
COUNTRY_MOVE_SHARE = 0.4
MISSING_EMAIL_SHARE = 0.01
PROPENSITY_BETA = (0.6, 2.4)  # latent repeat-purchase propensity, mean 0.2, long right tail

FIRST_NAMES = [
    "Ada",
    "Alan",
    "Amara",
    "Ana",
    "Ben",
    "Carla",
    "Chen",
    "Dara",
    "Elif",
    "Emma",
    "Farah",
    "Gustav",
    "Hana",
    "Ines",
    "Ivan",
    "Jonas",
    "Kai",
    "Lara",
    "Leo",
    "Lina",
    "Luca",
    "Maya",
    "Mia",
    "Nia",
    "Noah",
    "Omar",
    "Priya",
    "Rafael",
    "Sara",
    "Sofia",
    "Tariq",
    "Theo",
    "Uma",
    "Vera",
    "Yusuf",
    "Zoe",
]
LAST_NAMES = [
    "Almeida",
    "Berg",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Martin",
    "Nakamura",
    "Novak",
    "Okafor",
    "Petrov",
    "Quinn",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Tanaka",
    "Urban",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
]
COUNTRIES = ("DE", "FR", "NL", "ES", "IT", "PL", "SE", "GB", "US", "PT")
COUNTRY_WEIGHTS = (0.22, 0.16, 0.1, 0.1, 0.1, 0.08, 0.06, 0.08, 0.06, 0.04)
EMAIL_DOMAINS = ("example.com", "mail.example.org", "post.example.net", "inbox.example.io")

PRODUCTS_COUNT = 200  # the catalogue does not grow with scale
PRICE_CHANGE_SLOTS = 3
PRICE_CHANGE_SHARE = 0.3  # per slot
PRICE_CHANGE_DAYS = (-365, 1095)
DISCONTINUED_SHARE = 0.05
CATEGORY_NOUNS = {
    "kitchen": ("Mug", "Kettle", "Teapot", "Knife Set", "Cutting Board"),
    "garden": ("Planter", "Hose", "Trowel", "Bird Feeder", "Lantern"),
    "office": ("Notebook", "Desk Lamp", "Pen Set", "Monitor Stand", "Organizer"),
    "outdoor": ("Backpack", "Water Bottle", "Tent", "Headlamp", "Camp Chair"),
    "home": ("Blanket", "Cushion", "Candle", "Vase", "Picture Frame"),
    "sports": ("Yoga Mat", "Jump Rope", "Dumbbell", "Foam Roller", "Towel"),
    "toys": ("Puzzle", "Kite", "Building Set", "Plush Bear", "Card Game"),
    "beauty": ("Soap Bar", "Hand Cream", "Hair Brush", "Face Mask", "Lip Balm"),
}
ADJECTIVES = ("Classic", "Compact", "Deluxe", "Eco", "Essential", "Nordic", "Premium", "Travel", "Urban")

CUSTOMER_STREAMS = {"identity": 1, "changes": 2, "propensity": 3}
PRODUCT_STREAMS = {"catalogue": 10, "prices": 11}


@dataclass(frozen=True)
class Customers:
    """All customers ever (ids 1..N, in signup order) with their latent attributes."""

    signup_day: np.ndarray  # ascending
    signup_us: np.ndarray
    first_idx: np.ndarray
    last_idx: np.ndarray
    country_idx: np.ndarray
    domain_idx: np.ndarray
    email_missing: np.ndarray
    change_day: np.ndarray  # NEVER when the profile never changes
    change_us: np.ndarray
    moved_country_idx: np.ndarray  # country after the change (== country_idx when they did not move)
    propensity: np.ndarray
    cum_propensity: np.ndarray

    @property
    def size(self) -> int:
        return len(self.signup_day)

    def signed_up_before(self, day: int) -> int:
        """How many customers signed up before `day`; they are ids 1..that number."""
        return int(np.searchsorted(self.signup_day, day, side="left"))

    def pick(self, rng: np.random.Generator, day: int, n: int) -> np.ndarray:
        """Customer ids for n orders on `day`, drawn with probability proportional to propensity."""
        eligible = self.signed_up_before(day)
        if eligible == 0 or n == 0:
            return np.zeros(0, dtype=np.int64)
        # Sorted draws make the lookups cache-friendly (10x faster at 10M customers); the draws are i.i.d.,
        # so shuffling the result afterwards gives the same distribution.
        draws = np.sort(rng.random(n)) * self.cum_propensity[eligible - 1]
        idx = np.searchsorted(self.cum_propensity[:eligible], draws, side="right")
        return rng.permutation(np.minimum(idx, eligible - 1).astype(np.int64) + 1)


def build_customers(scale: float, seed: int) -> Customers:
    n = max(1, round(CUSTOMERS_PER_SCALE * scale))
    rng = day_rng(seed, POPULATION_DAY, CUSTOMER_STREAMS["identity"])
    signup_day = np.sort(rng.integers(*SIGNUP_DAYS, size=n))
    signup_us = day_start_us(signup_day) + rng.integers(0, 86_400, size=n) * SECOND_US
    first_idx = rng.integers(0, len(FIRST_NAMES), size=n)
    last_idx = rng.integers(0, len(LAST_NAMES), size=n)
    country_idx = rng.choice(len(COUNTRIES), size=n, p=COUNTRY_WEIGHTS)
    domain_idx = rng.integers(0, len(EMAIL_DOMAINS), size=n)
    email_missing = rng.random(n) < MISSING_EMAIL_SHARE

    rng = day_rng(seed, POPULATION_DAY, CUSTOMER_STREAMS["changes"])
    changes = rng.random(n) < PROFILE_CHANGE_SHARE
    change_day = np.where(changes, signup_day + rng.integers(1, 731, size=n), NEVER)
    change_us = day_start_us(np.minimum(change_day, 100_000)) + rng.integers(0, 86_400, size=n) * SECOND_US
    moves = rng.random(n) < COUNTRY_MOVE_SHARE
    moved_country_idx = np.where(
        moves, (country_idx + rng.integers(1, len(COUNTRIES), size=n)) % len(COUNTRIES), country_idx
    )

    rng = day_rng(seed, POPULATION_DAY, CUSTOMER_STREAMS["propensity"])
    propensity = rng.beta(*PROPENSITY_BETA, size=n)
    return Customers(
        signup_day=signup_day,
        signup_us=signup_us,
        first_idx=first_idx,
        last_idx=last_idx,
        country_idx=country_idx,
        domain_idx=domain_idx,
        email_missing=email_missing,
        change_day=change_day,
        change_us=change_us,
        moved_country_idx=moved_country_idx,
        propensity=propensity,
        cum_propensity=np.cumsum(propensity),
    )


def _emails(c: Customers, count: int, changed: np.ndarray) -> pa.Array:
    """first.last<id>@domain; a profile change moves the customer to the next email domain."""
    first = pc.utf8_lower(pa.array(FIRST_NAMES).take(c.first_idx[:count]))
    last = pc.utf8_lower(pa.array(LAST_NAMES).take(c.last_idx[:count]))
    ids = pc.cast(pa.array(np.arange(1, count + 1)), pa.string())
    domain_idx = (c.domain_idx[:count] + changed) % len(EMAIL_DOMAINS)
    domain = pa.array(EMAIL_DOMAINS).take(domain_idx)
    email = pc.binary_join_element_wise(first, ".", last, ids, "@", domain, "")
    return pc.if_else(pa.array(c.email_missing[:count]), pa.scalar(None, pa.string()), email)


def customers_snapshot(c: Customers, day: int) -> pa.Table:
    """The CRM export on `day`: every customer signed up by then, profile as of that day."""
    count = int(np.searchsorted(c.signup_day, day, side="right"))
    changed = c.change_day[:count] <= day
    country = np.where(changed, c.moved_country_idx[:count], c.country_idx[:count])
    updated_us = np.where(changed, c.change_us[:count], c.signup_us[:count])
    return pa.table(
        [
            pa.array(np.arange(1, count + 1, dtype=np.int64)),
            pa.array(FIRST_NAMES).take(c.first_idx[:count]),
            pa.array(LAST_NAMES).take(c.last_idx[:count]),
            _emails(c, count, changed),
            pa.array(COUNTRIES).take(country),
            date_array(c.signup_day[:count]),
            ts_array(updated_us),
        ],
        schema=shop_entities()["customers"].arrow_schema,
    )


@dataclass(frozen=True)
class Products:
    """The catalogue: price history (changes effective at midnight) and discontinuation."""

    category_idx: np.ndarray
    noun_idx: np.ndarray
    adjective_idx: np.ndarray
    created_day: np.ndarray
    change_day: np.ndarray  # (products, slots), ascending per row, NEVER for unused slots
    prices: np.ndarray  # (products, slots + 1): price before each change, then after it
    discontinued_day: np.ndarray
    popularity: np.ndarray  # relative order-line weight

    def price_on(self, day: int) -> np.ndarray:
        changes_done = (self.change_day <= day).sum(axis=1)
        return self.prices[np.arange(len(self.prices)), changes_done]

    def active_on(self, day: int) -> np.ndarray:
        return (self.created_day <= day) & (day < self.discontinued_day)

    def updated_day(self, day: int) -> np.ndarray:
        last_change = np.where(self.change_day <= day, self.change_day, self.created_day[:, None]).max(axis=1)
        discontinued = np.where(self.discontinued_day <= day, self.discontinued_day, last_change)
        return np.maximum(np.maximum(last_change, discontinued), self.created_day)


def _shelf_price(raw: np.ndarray) -> np.ndarray:
    """Round to an x.99 shelf price of at least 0.99."""
    return np.maximum(np.floor(raw), 0) + 0.99


def build_products(seed: int) -> Products:
    n, slots = PRODUCTS_COUNT, PRICE_CHANGE_SLOTS
    rng = day_rng(seed, POPULATION_DAY, PRODUCT_STREAMS["catalogue"])
    category_idx = rng.integers(0, len(CATEGORY_NOUNS), size=n)
    noun_idx = rng.integers(0, 5, size=n)
    adjective_idx = rng.integers(0, len(ADJECTIVES), size=n)
    created_day = rng.integers(-900, -30, size=n)
    discontinued_day = np.where(rng.random(n) < DISCONTINUED_SHARE, rng.integers(0, 730, size=n), NEVER)
    popularity = 1.0 / rng.permutation(np.arange(1, n + 1)) ** 0.8

    rng = day_rng(seed, POPULATION_DAY, PRODUCT_STREAMS["prices"])
    base = _shelf_price(rng.lognormal(mean=3.0, sigma=0.8, size=n))
    used = rng.random((n, slots)) < PRICE_CHANGE_SHARE
    change_day = np.sort(np.where(used, rng.integers(*PRICE_CHANGE_DAYS, size=(n, slots)), NEVER), axis=1)
    factors = np.cumprod(rng.uniform(0.85, 1.2, size=(n, slots)), axis=1)
    prices = np.column_stack([base, _shelf_price(base[:, None] * factors)])
    return Products(
        category_idx, noun_idx, adjective_idx, created_day, change_day, prices, discontinued_day, popularity
    )


def products_snapshot(p: Products, day: int) -> pa.Table:
    """The catalogue export on `day`: every product created by then, with its current price and status."""
    keep = np.flatnonzero(p.created_day <= day)
    categories = list(CATEGORY_NOUNS)
    nouns = pa.array([noun for c in categories for noun in CATEGORY_NOUNS[c]])
    noun = nouns.take(p.category_idx[keep] * 5 + p.noun_idx[keep])
    name = pc.binary_join_element_wise(pa.array(ADJECTIVES).take(p.adjective_idx[keep]), noun, " ")
    return pa.table(
        [
            pa.array(keep.astype(np.int64) + 1),
            name,
            pa.array(categories).take(p.category_idx[keep]),
            pa.array(p.price_on(day)[keep]),
            pa.array(p.active_on(day)[keep]),
            ts_array(day_start_us(p.updated_day(day)[keep])),
        ],
        schema=shop_entities()["products"].arrow_schema,
    )
