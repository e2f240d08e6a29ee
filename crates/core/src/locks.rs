//! Locking a `std::sync::Mutex` whose holder may have panicked: the data is used as it is.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, also after a panic of an earlier holder: every critical section in this crate
/// leaves its data whole at each step, so a poisoned lock holds usable data.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
