import { createSupervisor } from '../../src/index.js';

const supervisor = createSupervisor({
  id: 'app',
  type: 'supervisor',
  strategy: 'one_for_one',
  intensity: 3,
  periodMs: 5000,
  children: [{ id: 'counter', type: 'worker', module: new URL('./counter.actor.ts', import.meta.url), args: { label: 'demo' } }],
});
supervisor.on('restart', (e) => console.error(`restarted ${e.child} (${e.cause})`));

await supervisor.start();
const counter = supervisor.ref('counter');
for (let i = 0; i < 100; i++) await counter.send(new TextEncoder().encode(`batch ${i}`));
await supervisor.drain();
const [stats] = await supervisor.stats();
console.log(JSON.stringify(stats?.actor));
await supervisor.stop();
