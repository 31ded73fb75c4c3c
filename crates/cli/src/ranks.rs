//! The processes of one `rlhf train` run. Started by `mpirun -np N` (with the `mpi` feature)
//! they are N MPI ranks that train one policy data-parallel (`ppo::collective`); otherwise, and
//! in a build without MPI, one process, exactly as before. Rank 0 alone writes the run
//! directory. An error on any rank ends every rank (MPI_Abort), so no rank waits forever for
//! one that has gone.

use std::rc::Rc;

use ppo::{Collective, SingleProcess};

/// This process's place in the run.
pub struct Ranks {
    collective: Rc<dyn Collective>,
    #[cfg(feature = "mpi")]
    _universe: Option<mpi::environment::Universe>,
}

impl Ranks {
    /// MPI's ranks when launched by `mpirun` in an `mpi` build, else one process. A launch by
    /// `mpirun` of a build without the feature is an error (each process would train alone).
    pub fn init() -> anyhow::Result<Self> {
        let launched = launched_by_mpirun();
        #[cfg(feature = "mpi")]
        if launched {
            let universe = mpi::initialize()
                .ok_or_else(|| anyhow::anyhow!("MPI was already initialised in this process"))?;
            let collective = mpi_collective::Mpi::new(universe.world());
            return Ok(Self {
                collective: Rc::new(collective),
                _universe: Some(universe),
            });
        }
        #[cfg(not(feature = "mpi"))]
        if launched.then(mpirun_size).flatten().is_some_and(|n| n > 1) {
            anyhow::bail!(
                "this `rlhf` was built without MPI, so under mpirun every process would train on \
                 its own; build it with `--features mpi` (cargo xtask setup-mpi first)"
            );
        }
        Ok(Self {
            collective: Rc::new(SingleProcess),
            #[cfg(feature = "mpi")]
            _universe: None,
        })
    }

    /// The collective operations the trainer uses.
    pub fn collective(&self) -> Rc<dyn Collective> {
        Rc::clone(&self.collective)
    }

    /// Rank 0 writes files and prints progress.
    pub fn is_root(&self) -> bool {
        self.collective.rank() == 0
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.collective.size()
    }

    /// Reports `error` and, with several ranks, ends all of them (exit status 1).
    pub fn fail(&self, error: &anyhow::Error) {
        if self.size() == 1 {
            return;
        }
        eprintln!(
            "error on rank {} of {}: {error:#}\nstopping every rank",
            self.collective.rank(),
            self.size()
        );
        #[cfg(feature = "mpi")]
        if let Some(universe) = &self._universe {
            use mpi::traits::Communicator;
            universe.world().abort(1);
        }
    }
}

/// True when this process was started by `mpirun` / `mpiexec` (OpenMPI, MPICH, Slurm's PMI).
fn launched_by_mpirun() -> bool {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

#[cfg(not(feature = "mpi"))]
fn mpirun_size() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok())
}

#[cfg(feature = "mpi")]
mod mpi_collective {
    use mpi::Count;
    use mpi::collective::SystemOperation;
    use mpi::datatype::PartitionMut;
    use mpi::topology::SimpleCommunicator;
    use mpi::traits::{Communicator, CommunicatorCollectives};

    /// [`ppo::Collective`] over an MPI communicator. MPI's default error handler ends the job
    /// on a communication failure, and `mpirun` ends it when a rank dies.
    pub struct Mpi {
        world: SimpleCommunicator,
    }

    impl Mpi {
        pub fn new(world: SimpleCommunicator) -> Self {
            Self { world }
        }
    }

    impl ppo::Collective for Mpi {
        fn rank(&self) -> usize {
            self.world.rank() as usize
        }

        fn size(&self) -> usize {
            self.world.size() as usize
        }

        fn sum_f64(&self, values: &mut [f64]) {
            let local = values.to_vec();
            self.world
                .all_reduce_into(&local[..], values, SystemOperation::sum());
        }

        fn sum_f32(&self, values: &mut [f32]) {
            let local = values.to_vec();
            self.world
                .all_reduce_into(&local[..], values, SystemOperation::sum());
        }

        fn gather_bytes(&self, local: &[u8]) -> Vec<Vec<u8>> {
            let own = local.len() as Count;
            let mut counts = vec![0 as Count; self.size()];
            self.world.all_gather_into(&own, &mut counts[..]);
            let displs: Vec<Count> = counts
                .iter()
                .scan(0, |next, &count| {
                    let at = *next;
                    *next += count;
                    Some(at)
                })
                .collect();
            let total: usize = counts.iter().map(|&c| c as usize).sum();
            let mut all = vec![0u8; total];
            {
                let mut parts = PartitionMut::new(&mut all[..], counts.clone(), &displs[..]);
                self.world.all_gather_varcount_into(local, &mut parts);
            }
            let mut out = Vec::with_capacity(counts.len());
            let mut rest = &all[..];
            for &count in &counts {
                let (part, tail) = rest.split_at(count as usize);
                out.push(part.to_vec());
                rest = tail;
            }
            out
        }
    }
}
