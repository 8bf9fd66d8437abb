"""The metacognitive memory loop: tri-retrieve, memory units, probing, fusion, answering."""
