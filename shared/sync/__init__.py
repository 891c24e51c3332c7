"""Level-triggered synchronisation of Orbit bookings into Millennium."""
