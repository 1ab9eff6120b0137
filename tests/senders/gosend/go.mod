module xfrm-nat/tests/senders/gosend

go 1.19
