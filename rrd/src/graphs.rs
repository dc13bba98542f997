pub struct Graphs;
