// Live activity from the server's event stream: the latest snapshot (in-flight fills) and the most recent
// finished requests. EventSource reconnects by itself; the state says whether the stream is currently up.
import { useEffect, useState } from 'preact/hooks';
import type { ActivitySnapshot, RequestView, WatchEventView } from './types.js';

const keepRequests = 15;

export interface Activity {
  snapshot: ActivitySnapshot | undefined;
  recent: RequestView[];
  /** Watch list events (a tag moved, a run failed or was held back), newest first. */
  watch: WatchEventView[];
  live: boolean;
}

export function useActivity(): Activity {
  const [snapshot, setSnapshot] = useState<ActivitySnapshot | undefined>(undefined);
  const [recent, setRecent] = useState<RequestView[]>([]);
  const [watch, setWatch] = useState<WatchEventView[]>([]);
  const [live, setLive] = useState(false);

  useEffect(() => {
    const source = new EventSource('/api/activity/events', { withCredentials: true });
    source.onopen = () => setLive(true);
    source.onerror = () => setLive(false);
    source.addEventListener('snapshot', (e) => {
      const next = JSON.parse((e as MessageEvent<string>).data) as ActivitySnapshot;
      setSnapshot(next);
      // The snapshot's recent list (newest first) is the server's truth; events in between only prepend to it.
      setRecent(next.recent.slice(0, keepRequests));
      setWatch(next.watch.slice(0, keepRequests));
    });
    source.addEventListener('watch', (e) => {
      const event = JSON.parse((e as MessageEvent<string>).data) as WatchEventView;
      setWatch((list) => [event, ...list].slice(0, keepRequests));
    });
    source.addEventListener('request', (e) => {
      const request = JSON.parse((e as MessageEvent<string>).data) as RequestView;
      setRecent((list) => [request, ...list].slice(0, keepRequests));
    });
    return () => source.close();
  }, []);

  return { snapshot, recent, watch, live };
}
