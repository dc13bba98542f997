-- Engine preferences get a scope (issue 9): '' is the global namespace, read and written only
-- by users who see every site; a site's name is that site's namespace, read by the users who
-- see the site and written by operators over it. Before, one global namespace was readable by
-- viewers limited to some sites (values set by or for other sites). Existing rows stay global.
ALTER TABLE engine_preferences ADD COLUMN site text NOT NULL DEFAULT '';
ALTER TABLE engine_preferences DROP CONSTRAINT engine_preferences_pkey;
ALTER TABLE engine_preferences ADD PRIMARY KEY (site, key);
