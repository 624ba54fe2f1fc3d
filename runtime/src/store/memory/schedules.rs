//! Schedules in the in-memory store.

use super::{ready, MemoryStore};
use crate::definition::BoxFuture;
use crate::error::StoreError;
use crate::store::schedules::{
    Fired, ScheduleDef, ScheduleFire, ScheduleRecord, ScheduleState, ScheduleStore,
};

impl ScheduleStore for MemoryStore {
    fn put_schedule(&self, def: ScheduleDef) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut inner = self.lock();
        match inner.schedules.get_mut(&def.id) {
            Some(record) => {
                if record.cron != def.cron {
                    record.state.next_ms = def.next_ms;
                }
                record.cron = def.cron;
                record.workflow = def.workflow;
                record.input = def.input;
                record.overlap = def.overlap;
                record.catchup_ms = def.catchup_ms;
                record.version += 1;
                record.updated_ms = def.now_ms;
            }
            None => {
                let record = ScheduleRecord {
                    id: def.id.clone(),
                    cron: def.cron,
                    workflow: def.workflow,
                    input: def.input,
                    overlap: def.overlap,
                    catchup_ms: def.catchup_ms,
                    paused: false,
                    state: ScheduleState {
                        next_ms: def.next_ms,
                        ..ScheduleState::default()
                    },
                    version: 1,
                    created_ms: def.now_ms,
                    updated_ms: def.now_ms,
                };
                inner.schedules.insert(def.id, record);
            }
        }
        ready(Ok(()))
    }

    fn schedule(&self, id: &str) -> BoxFuture<'_, Result<Option<ScheduleRecord>, StoreError>> {
        ready(Ok(self.lock().schedules.get(id).cloned()))
    }

    fn list_schedules(&self) -> BoxFuture<'_, Result<Vec<ScheduleRecord>, StoreError>> {
        ready(Ok(self.lock().schedules.values().cloned().collect()))
    }

    fn pause_schedule(
        &self,
        id: &str,
        paused: bool,
        next_ms: Option<u64>,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let mut inner = self.lock();
        let Some(record) = inner.schedules.get_mut(id) else {
            return ready(Ok(false));
        };
        record.paused = paused;
        if let Some(next_ms) = next_ms {
            record.state.next_ms = next_ms;
        }
        record.version += 1;
        record.updated_ms = now_ms;
        ready(Ok(true))
    }

    fn delete_schedule(&self, id: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        ready(Ok(self.lock().schedules.remove(id).is_some()))
    }

    fn fire_schedule(&self, fire: ScheduleFire) -> BoxFuture<'_, Result<Fired, StoreError>> {
        let now = self.clock.now_ms();
        let mut inner = self.lock();
        match inner.schedules.get_mut(&fire.id) {
            Some(record) if record.version == fire.version => {
                record.state = fire.state;
                record.version += 1;
                record.updated_ms = fire.now_ms;
            }
            _ => return ready(Ok(Fired::Stale)),
        }
        let created = fire.start.map(|new| inner.create(new, now));
        ready(Ok(Fired::Written(created)))
    }
}
