/**
 * The simulation's database: the daemon's own store, opened for a throwaway
 * file. A simulated run is repeatable from its seed, so it trades the crash
 * safety the real store keeps (WAL, synchronous commits) for speed.
 */
import { openStore, type OpenedStore } from '../store/open.js';

/**
 * Opens (creating and migrating) a database for a simulation at `path`.
 *
 * @throws WarmupError STORE_OPEN, STORE_MIGRATION
 */
export function openSimulationStore(path: string): Promise<OpenedStore> {
  return openStore(path, { durability: 'throwaway' });
}
