//! The `addons` of a query: each a name, or an object with the add-on's name, the quantity held
//! and the instant it was acquired.

use serde::de::{Error, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{Count, Instant, InstantVisitor};

/// One element of `addons`.
pub(super) struct AddonItem {
    pub addon: String,
    pub quantity: u64,
    pub acquired: Option<Instant>,
    /// Written as a plain name, so a query whose add-ons are all names asks exactly what it
    /// asked before add-ons could be objects.
    pub plain: bool,
}

impl<'de> Deserialize<'de> for AddonItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = AddonItem;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an add-on's name, or an object with `addon` and optionally `quantity` and `acquired`")
    }

    fn visit_str<E>(self, name: &str) -> Result<AddonItem, E> {
        Ok(AddonItem { addon: name.to_string(), quantity: 1, acquired: None, plain: true })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AddonItem, A::Error> {
        let (mut addon, mut quantity, mut acquired) = (None, None, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "addon" if addon.is_none() => addon = Some(map.next_value::<String>()?),
                "quantity" if quantity.is_none() => {
                    quantity = Some(map.next_value_seed(Seed(Count { what: "an add-on's `quantity`" }))?);
                }
                "acquired" if acquired.is_none() => {
                    acquired = Some(map.next_value_seed(Seed(InstantVisitor { what: "an add-on's `acquired`" }))?);
                }
                "addon" | "quantity" | "acquired" => {
                    return Err(A::Error::custom(format!("duplicate field `{key}` in an add-on")))
                }
                other => {
                    return Err(A::Error::custom(format!(
                        "unknown field `{other}` in an add-on, expected `addon`, `quantity` or `acquired`"
                    )))
                }
            }
        }
        let addon = addon.ok_or_else(|| A::Error::custom("an add-on object has no `addon` name"))?;
        Ok(AddonItem { addon, quantity: quantity.unwrap_or(1), acquired, plain: false })
    }
}

/// A visitor used as a seed, so that one field's value is read with the visitor that names it.
struct Seed<V>(V);

impl<'de, V: Visitor<'de>> serde::de::DeserializeSeed<'de> for Seed<V> {
    type Value = V::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        deserializer.deserialize_any(self.0)
    }
}
