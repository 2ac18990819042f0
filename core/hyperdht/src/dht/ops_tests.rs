//! Tests of the client operations.
use super::*;

#[test]
fn closest_keeps_k_nodes_sorted_by_distance() {
    let target = [0u8; 32];
    let mut list = Vec::new();
    for i in (0..30u8).rev() {
        let mut id = [0u8; 32];
        id[0] = i;
        let addr = Ipv4Address::new([10, 0, 0, i], 1);
        push_closest(&mut list, &target, NodeRef { addr, id });
        push_closest(&mut list, &target, NodeRef { addr, id }); // duplicates ignored
    }
    assert_eq!(list.len(), K);
    let firsts: Vec<u8> = list.iter().map(|n| n.id[0]).collect();
    assert_eq!(firsts, (0..20u8).collect::<Vec<_>>());
}
