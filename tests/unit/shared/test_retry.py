from touchline.shared.retry import backoff


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    assert [backoff(n, base=1, cap=5) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
    assert [backoff(n, base=0.5, cap=10.0) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 10, 10]


def test_backoff_of_an_endless_outage_stays_at_the_cap() -> None:
    assert backoff(10**6, base=1.0, cap=900.0) == 900.0
    assert backoff(0, base=0.2, cap=5.0) == 0.2
