// Loads a GET resource, reloads it on demand or on an interval, and keeps the last good value while reloading so
// that tables do not flash empty.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errorMessage } from './api.js';
import { useApp } from './app-context.js';

export interface Resource<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload(): Promise<void>;
}

export function useResource<T>(path: string | undefined, refreshMs?: number): Resource<T> {
  const { api } = useApp();
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(path !== undefined);
  // A slow answer for an earlier path must not overwrite the current one.
  const latest = useRef(path);
  latest.current = path;

  const reload = useCallback(async () => {
    if (path === undefined) return;
    setLoading(true);
    try {
      const value = await api.get<T>(path);
      if (latest.current !== path) return;
      setData(value);
      setError(undefined);
    } catch (err) {
      if (latest.current === path) setError(errorMessage(err));
    } finally {
      if (latest.current === path) setLoading(false);
    }
  }, [api, path]);

  useEffect(() => {
    setData(undefined);
    void reload();
    if (!refreshMs) return;
    const timer = setInterval(() => void reload(), refreshMs);
    return () => clearInterval(timer);
  }, [reload, refreshMs]);

  return { data, error, loading, reload };
}
