//! The one place closed sets of wire strings become typed enums and back.
//!
//! [`wire_enum!`] declares an enum whose known spellings map to unit variants and whose
//! every other spelling is kept verbatim in `Other(String)`, so values Keptn compared as plain
//! strings round-trip exactly. Each generated enum gets:
//! - `as_str` (the wire string) and `KNOWN` (the known wire strings, without the empty one);
//! - `FromStr` (infallible) and `From<&str>`, `Display`;
//! - serde `Serialize` (the wire string) and a lenient `Deserialize` (JSON `null` reads as the
//!   empty string, which then maps like any other string).
//!
//! An enum may also declare an *unset* variant after a `;` (`Unset = ""`): the empty string
//! (and so a JSON `null`) maps to it, it is the `Default`, and `is_unset` tests for it. Go
//! typed these values as plain strings, where "absent" and "empty" are the same thing.
//!
//! ```text
//! wire_enum!(
//!     /// A task result.
//!     ResultType {
//!         /// `pass`
//!         Pass = "pass",
//!         /// `fail`
//!         Fail = "fail";
//!         /// Empty or absent.
//!         Unset = "",
//!     }
//! );
//! ```

/// Declares a wire-string enum; see the [module docs](self).
macro_rules! wire_enum {
    (
        @emit [$(#[$m:meta])*] $name:ident
        [$($(#[$vm:meta])* $variant:ident = $wire:literal),*]
        [$($(#[$um:meta])* $unset:ident)?]
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $variant,)*
            $($(#[$um])* $unset,)?
            /// Any other string (kept verbatim; Keptn compared these strings exactly).
            Other(String),
        }

        impl $name {
            /// The known wire strings (the empty string of an unset variant is not listed).
            pub const KNOWN: &'static [&'static str] = &[$($wire),*];

            /// The wire string.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)*
                    $($name::$unset => "",)?
                    $name::Other(s) => s,
                }
            }

            $(
                /// True for the unset variant (an empty or absent value).
                pub fn is_unset(&self) -> bool {
                    matches!(self, $name::$unset)
                }
            )?
        }

        $(
            impl Default for $name {
                fn default() -> Self {
                    $name::$unset
                }
            }
        )?

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($wire => $name::$variant,)*
                    $("" => $name::$unset,)?
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok($name::from(s))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <Option<String> as ::serde::Deserialize>::deserialize(d)?
                    .unwrap_or_default();
                Ok($name::from(s.as_str()))
            }
        }
    };
    (
        $(#[$m:meta])*
        $name:ident {
            $($(#[$vm:meta])* $variant:ident = $wire:literal),* $(,)?
        }
    ) => {
        $crate::wire::wire_enum!(@emit [$(#[$m])*] $name [$($(#[$vm])* $variant = $wire),*] []);
    };
    (
        $(#[$m:meta])*
        $name:ident {
            $($(#[$vm:meta])* $variant:ident = $wire:literal),* ;
            $(#[$um:meta])* $unset:ident = "" $(,)?
        }
    ) => {
        $crate::wire::wire_enum!(
            @emit [$(#[$m])*] $name [$($(#[$vm])* $variant = $wire),*] [$(#[$um])* $unset]
        );
    };
}

pub(crate) use wire_enum;

#[cfg(test)]
mod tests {
    wire_enum!(
        /// Closed set without an unset variant.
        Colour {
            /// `red`
            Red = "red",
            /// `blue`
            Blue = "blue",
        }
    );

    wire_enum!(
        /// Closed set with an unset variant.
        Answer {
            /// `yes`
            Yes = "yes",
            /// `no`
            No = "no";
            /// Empty or absent.
            Unset = "",
        }
    );

    #[test]
    fn known_unknown_and_empty_strings() {
        assert_eq!(Colour::from("red"), Colour::Red);
        assert_eq!("blue".parse::<Colour>(), Ok(Colour::Blue));
        assert_eq!(Colour::from("Red"), Colour::Other("Red".into()));
        assert_eq!(Colour::from(""), Colour::Other(String::new()));
        assert_eq!(Colour::KNOWN, &["red", "blue"]);
        assert_eq!(Answer::from(""), Answer::Unset);
        assert_eq!(Answer::default(), Answer::Unset);
        assert!(Answer::Unset.is_unset());
        assert!(!Answer::Other(String::new()).is_unset());
        assert_eq!(Answer::KNOWN, &["yes", "no"]);
        assert_eq!(Answer::Unset.to_string(), "");
    }

    #[test]
    fn serde_is_the_wire_string_and_null_reads_as_empty() {
        assert_eq!(serde_json::to_string(&Answer::Yes).unwrap(), r#""yes""#);
        assert_eq!(serde_json::to_string(&Answer::Unset).unwrap(), r#""""#);
        let odd = Answer::Other("maybe".into());
        assert_eq!(serde_json::to_string(&odd).unwrap(), r#""maybe""#);
        let a: Vec<Answer> = serde_json::from_str(r#"["no",null,"","maybe"]"#).unwrap();
        assert_eq!(a, [Answer::No, Answer::Unset, Answer::Unset, odd]);
        let c: Colour = serde_json::from_str("null").unwrap();
        assert_eq!(c, Colour::Other(String::new()));
    }
}
